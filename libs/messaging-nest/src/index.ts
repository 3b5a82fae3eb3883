export * from './runtime-context';
export * from './runtime-transport';
export * from './rethrow-errors.filter';
