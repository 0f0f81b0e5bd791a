// The native backward pass: loss and gradients of a loaded model.
export * from './gradients';
