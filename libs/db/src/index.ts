export * from './pool';
export * from './prepared';
export * from './migrate';
export * from './database';
export * from './roles';
export * from './purge/purge-spec';
export * from './purge/purge-metrics';
export * from './purge/purger';
