export * from './services';
export * from './layout';
export * from './kafka-credentials';
export * from './kafka-acls';
