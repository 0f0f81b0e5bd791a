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

/** pino's levels, for the commands that log JSON lines (serve, worker). */
export const logLevelOption = (): Option =>
  new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

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

/** The options only some methods take (MethodOptionName), shared by prune and sweep; each method refuses those it does not list. */
export const methodOptions = (): Option[] => [
  new Option('--base <method>', 'owl, rl-allocation, dsnot, kmeans: the method they build on (default wanda)'),
  new Option('--bits <b>', 'kmeans: 2^b shared values per matrix (default 4)').argParser(int('--bits')),
  new Option('--score <formula>', 'formula: the score, e.g. "abs(W) * sqrt(xnorm)" (docs/formula.md lists the inputs)'),
  new Option('--permute', 'ria with --pattern N:M: permute the MLP channels before selecting (function-preserving)'),
  new Option('--episodes <n>', 'rl-allocation: the agent\'s episode budget (default 24)').argParser(int('--episodes')),
];
