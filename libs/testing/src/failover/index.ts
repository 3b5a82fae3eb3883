export * from './cluster-platform';
export * from './steady-load';
export * from './progress-probe';
export * from './recovery';
export * from './integrity';
export * from './round';
