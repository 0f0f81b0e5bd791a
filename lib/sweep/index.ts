export { sweep } from './run';
export type { SweepOutcome, SweepProgress, SweepRunOptions } from './run';
export { checkSweepOptions, DEFAULT_LEVELS, parseLevels, sweepCells } from './options';
export type { CellSpec, CheckedSweep, StatsMode, SweepOptions } from './options';
export { DenseReference, queryQuality } from './quality';
export type { QueryQuality } from './quality';
export { SweepStore } from './store';
export { summaryTable } from './summary';
