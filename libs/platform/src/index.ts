export * from './services';
export * from './layout';
