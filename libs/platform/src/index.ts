export * from './services';
export * from './layout';
export * from './command-keys';
