export * from './services';
export * from './layout';
export * from './database-roles';
export * from './command-keys';
