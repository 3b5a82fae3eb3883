export * from './projection';
export * from './sql';
export * from './changes';
export * from './install';
export * from './catalog';
export * from './upcast';
