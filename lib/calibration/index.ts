export * from './read';
export * from './sample';
