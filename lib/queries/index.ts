// Users' queries as the environment of query-aware pruning: reading them for a model,
// the calibration / held-out split, and the dense model's continuations.
export * from './environment';
export * from './hash';
export * from './read';
export * from './split';
export * from './sensitivity';
export * from './allocation';
export * from './learn-mask';
export * from './learn-mask-decide';
export * from './learn-mask-model';
