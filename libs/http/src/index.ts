export * from './problem';
export * from './validation';
export * from './error-handler';
export * from './http-app';
export * from './nest-logger';
export * from './backpressure';
export * from './event-loop-guard';
export * from './connection-bounds';
