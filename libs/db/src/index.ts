export * from './pool';
export * from './migrate';
export * from './database';
export * from './roles';
