export * from './murmur2';
export * from './routing';
export * from './wire-format';
export * from './avro-codec';
export * from './kafka';
export * from './kafka-security';
export * from './runtime';
