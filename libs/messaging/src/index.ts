export * from './murmur2';
export * from './routing';
export * from './wire-format';
export * from './avro-codec';
export * from './registry-endpoint';
export * from './kafka';
export * from './runtime';
export * from './command-signing';
