export * from './table';
export * from './fold';
export * from './store';
export * from './projection';
