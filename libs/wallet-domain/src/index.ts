export * from './currencies';
export * from './wallet';
