export * from './edge-options';
export * from './render-edge-config';
