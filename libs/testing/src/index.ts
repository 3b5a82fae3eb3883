export * from './env';
export * from './names';
export * from './database';
export * from './wait';
export * from './kafka';
export * from './processes';
export * from './debezium';
export * from './metrics';
