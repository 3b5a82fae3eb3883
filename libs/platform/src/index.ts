export * from './services';
export * from './layout';
export * from './dev-auth';
export * from './database-roles';
export * from './command-keys';
export * from './kafka-credentials';
export * from './kafka-acls';
export * from './prometheus-config';
