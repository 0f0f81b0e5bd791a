// Option parsers shared by the commands. They name their option, so that a bad value
// reaches the user as "shears: --seq-len expects an integer, got 'x'".
import { Option } from 'commander';

import { BACKEND_REQUESTS } from '../backend';
import { ArgumentRangeError } from '../errors';

export const int = (option: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new ArgumentRangeError(`${option} expects an integer, got '${v}'`);
  return n;
};

export const num = (option: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new ArgumentRangeError(`${option} expects a number, got '${v}'`);
  return n;
};

/** For repeatable options: --include a --include b -> ['a', 'b']. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --backend auto|cpu|cuda, shared by prune, sweep, demo and eval (lib/backend.ts). */
export const backendOption = (): Option =>
  new Option('--backend <b>', 'compute backend: auto (CUDA when a device answers, else CPU), cpu, or cuda (an error without a device)')
    .choices([...BACKEND_REQUESTS])
    .default('auto');

/** SparseGPT's statistic precision, shared by prune and sweep. */
export const hessianPrecisionOption = (): Option =>
  new Option('--hessian-precision <p>', 'SparseGPT statistic precision (default f64)').choices(['f64', 'f32']);

/** The outlier threshold of the activation statistics, shared by prune and sweep. */
export const alphaOption = (): Option =>
  new Option('--alpha <a>', 'gradient-sensitive: weight of the gradient term (default 100)').argParser(num('--alpha'));

export const activationThresholdOption = (): Option =>
  new Option('--activation-threshold <x>', 'an activation with |x| above this counts as an outlier in the statistics (default 6)').argParser(
    num('--activation-threshold'),
  );
