// Public API of shears.
export * from './errors';
export * from './tensor';
export * from './kernels';
export * from './strategies';
export * from './report';
export * from './tokenizer';
export * from './methods/hessian';
export * from './methods/sparsegpt';
export * from './forward';
export * from './eval/perplexity';
export * from './formats';
export * from './sweep';
