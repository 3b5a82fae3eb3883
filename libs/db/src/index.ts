export * from './pool';
export * from './prepared';
export * from './migrate';
export * from './database';
export * from './roles';
