export * from './read';
export * from './sample';
export type { SliceOptions } from './steps';
