// The native forward pass (lib/forward/): per-stage model runner, generation, logit comparison.
export * from './model';
export * from './generate';
export * from './compare';
export * from './matmul';
export * from './sampling';
