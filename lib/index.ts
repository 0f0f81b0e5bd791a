// Public API of shears.
export * from './errors';
export * from './tensor';
export * from './kernels';
export * from './strategies';
export * from './formats';
