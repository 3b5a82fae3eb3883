export * from './http-target';
export * from './recorder';
export * from './models';
