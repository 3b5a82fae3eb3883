export * from './table';
export * from './writer';
export * from './lsn';
export * from './slot';
