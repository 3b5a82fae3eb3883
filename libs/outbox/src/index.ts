export * from './table';
export * from './writer';
