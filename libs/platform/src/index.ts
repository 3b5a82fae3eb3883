export * from './services';
export * from './layout';
export * from './dev-auth';
