// rl-allocation (seed Table 4, "dynamic pruning with reinforcement learning", after AMC,
// He et al. 2018): an agent chooses each block's sparsity under the global target, its
// reward minus the KL(dense || pruned) on calibration windows; the base method (--base
// wanda|sparsegpt) then prunes each block at its sparsity. The agent and its episodes:
// lib/allocation/rl.ts; docs/rl-allocation.md.
import { ArgumentRangeError } from '../../errors';
import { baseMethod } from '../base-option';
import { rlAllocation, DEFAULT_EPISODES, MAX_EPISODES } from '../../allocation/rl';
import type { Strategy } from '../../strategies';
import type { MethodOptions, UnstructuredMethod } from '../plugin';
import { methodInfo } from '../registry';

/** The inner pruners it allocates for. */
export const RL_BASES = ['wanda', 'sparsegpt'] as const;

/** Their default selection granularity (the episodes and the final prune use it). */
const BASE_GRANULARITY: Record<(typeof RL_BASES)[number], string> = { wanda: 'row', sparsegpt: 'matrix' };

const baseOf = (o?: MethodOptions) => baseMethod('rl-allocation', RL_BASES, o?.base);

/** The base method's strategy (read from the registry when called: the registry loads this file). */
const baseStrategy = (o?: MethodOptions): Strategy => methodInfo(baseOf(o)).create!(o);

export const method: UnstructuredMethod = {
  name: 'rl-allocation',
  description: 'per-block sparsities chosen by a policy-gradient agent (reward: -KL to the dense model on calibration windows), pruned by --base wanda|sparsegpt',
  kind: 'allocation',
  calibrated: true,
  source: 'He et al., AMC: AutoML for Model Compression (ECCV 2018); REINFORCE (Williams 1992)',
  order: 75,
  // Each episode prunes and measures the whole model: 26 prunes a run at the default budget.
  slow: true,
  options: ['base', 'episodes'],
  checkOptions(o, run) {
    // The episodes prune with the base's own granularity: the final prune must be the model
    // they measured (global is refused for every allocation method, by the run's own check).
    const own = BASE_GRANULARITY[baseOf(o)];
    if (run.granularity !== undefined && run.granularity !== 'global' && run.granularity !== own)
      throw new ArgumentRangeError(`rl-allocation measures its episodes with --base ${baseOf(o)}'s own granularity (${own}): --granularity ${run.granularity} is not supported`);
    if (o.episodes !== undefined && !(Number.isInteger(o.episodes) && o.episodes >= 1 && o.episodes <= MAX_EPISODES))
      throw new ArgumentRangeError(`--episodes must be an integer in [1, ${MAX_EPISODES}] (each episode prunes and measures the model once), got ${String(o.episodes)}`);
  },
  create: baseStrategy,
  allocate: (ctx) =>
    rlAllocation(ctx, {
      base: baseOf(ctx.options),
      episodes: ctx.options.episodes ?? DEFAULT_EPISODES,
      seed: ctx.options.seed ?? 0,
      createStrategy: () => baseStrategy(ctx.options),
    }),
};
