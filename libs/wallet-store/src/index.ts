export * from './tables';
export * from './reads';
