export * from './http-target';
export * from './recorder';
export * from './models';
export * from './node-http-target';
