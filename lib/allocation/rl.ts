// rl-allocation's episodes (AMC-style, He et al. 2018, with REINFORCE instead of DDPG):
//
//   0. the blocks' features (features.ts), then the uniform allocation (every block at
//      the target) measured: its KL starts the running baseline;
//   1. each episode e = 1..E: the policy proposes per-block offsets z (policy.ts), the
//      sparsities are target + z projected to the exact parameter-weighted mean and the
//      bounds [0, 0.99] (project.ts; with a row-wise base selection, then shifted to
//      remove at least as many weights as the uniform run: matchCount), a copy of the model is pruned at them with the base
//      method and its calibration KL measured (evaluate.ts); reward = -KL; the policy
//      takes one REINFORCE step with the advantage against the running baseline; the
//      exploration sigma shrinks linearly from SIGMA_START to SIGMA_END;
//   2. the policy's mean is measured once more at the end.
//
// The allocation returned is the one with the lowest measured KL among the uniform one,
// every episode's and the final mean's (ties: the earliest, so uniform wins a tie). Every
// candidate was measured by the same protocol on the same windows, so the best measured
// one is what the reward asks for; the mean alone would throw measured information away,
// and with a few dozen episodes it is often not the best point the agent has seen. The
// report says which one it was and whether it beat uniform at all.
import type { CalibrationSet } from '../calibration/sample';
import type { AllocationContext, Allocation } from '../methods/plugin';
import type { Strategy } from '../strategies';
import { SeededRandom } from '../util/random';
import { AllocationEvaluator, Evaluation } from './evaluate';
import { blockFeatures, FEATURE_NAMES } from './features';
import { GaussianPolicy, RunningBaseline, standardize } from './policy';
import { BLOCK_SPARSITY_BOUNDS, matchCount, projectToTarget, rowwisePruned, weightedMean } from './project';
import { windowSubset } from './windows';

/** Episodes when --episodes is not given, and the most it takes. */
export const DEFAULT_EPISODES = 24;
export const MAX_EPISODES = 1000;
/** Calibration windows an episode prunes and measures on (a seeded subset beyond it). */
export const EPISODE_WINDOWS = 32;
/** Exploration noise of the offsets, in sparsity units, at the first and the last episode. */
const SIGMA_START = 0.05;
const SIGMA_END = 0.02;

export interface RlAllocationOptions {
  base: string;
  episodes: number;
  seed: number;
  createStrategy: () => Strategy;
  /** Windows per episode (default EPISODE_WINDOWS). */
  windows?: number;
}

interface Candidate {
  from: string;
  sparsity: number[];
  kl: number;
  /** Weights it pruned (measured). */
  pruned: number;
}

const round = (x: number, d = 6) => Number(x.toFixed(d));

export async function rlAllocation(ctx: AllocationContext, o: RlAllocationOptions): Promise<Allocation> {
  const start = process.hrtime.bigint();
  const windows = windowSubset(ctx.calibration, o.windows ?? EPISODE_WINDOWS, o.seed);
  const evaluator = await AllocationEvaluator.create({
    model: ctx.model,
    windows,
    createStrategy: o.createStrategy,
    include: ctx.include,
    exclude: ctx.exclude,
    backend: ctx.backend,
    batch: ctx.batch,
    signal: ctx.signal,
  });
  const P = evaluator.blockParameters;
  const target = ctx.sparsity;
  const live = P.map((_, b) => b).filter((b) => P[b] > 0);
  const total = o.episodes + 2;
  const measure = async (label: string, sparsity: number[]): Promise<Evaluation> => {
    ctx.onProgress?.(`rl-allocation ${label}`);
    return evaluator.evaluate(sparsity);
  };

  ctx.onProgress?.('rl-allocation block features');
  const features = await blockFeatures(ctx.model, windows, live, P, { include: ctx.include, exclude: ctx.exclude, backend: ctx.backend, batch: ctx.batch, signal: ctx.signal });
  const uniformSparsity = evaluator.uniform(target);
  const uniform = await measure(`uniform (1/${total})`, uniformSparsity);
  const policy = new GaussianPolicy(standardize(features));
  const baseline = new RunningBaseline(-uniform.kl);
  const rng = new SeededRandom(o.seed);
  // A row-wise selection rounds each row down: candidates remove at least the uniform run's weights.
  const rowwise = o.createStrategy().defaultGranularity === 'row';
  const uniformCount = live.reduce((t, b) => t + rowwisePruned(evaluator.blockShapes[b], target), 0);
  const toSparsity = (offsets: number[]) => {
    const proposal = P.map(() => 0);
    live.forEach((b, i) => (proposal[b] = target + offsets[i]));
    const exact = projectToTarget(proposal, P, target, BLOCK_SPARSITY_BOUNDS);
    return rowwise ? matchCount(exact, evaluator.blockShapes, uniformCount, BLOCK_SPARSITY_BOUNDS) : exact;
  };

  const candidates: Candidate[] = [{ from: 'uniform', sparsity: uniformSparsity, kl: uniform.kl, pruned: uniform.pruned }];
  const curve: Record<string, unknown>[] = [];
  for (let e = 1; e <= o.episodes; e++) {
    ctx.signal?.throwIfAborted();
    const sigma = o.episodes > 1 ? SIGMA_START + ((SIGMA_END - SIGMA_START) * (e - 1)) / (o.episodes - 1) : SIGMA_START;
    const z = policy.sample(rng, sigma);
    const sparsity = toSparsity(z);
    const r = await measure(`episode ${e}/${o.episodes} (${e + 1}/${total})`, sparsity);
    const reward = -r.kl;
    const before = baseline.value;
    const advantage = baseline.advantage(reward);
    policy.update(z, advantage);
    candidates.push({ from: `episode ${e}`, sparsity, kl: r.kl, pruned: r.pruned });
    curve.push({ episode: e, reward: round(reward, 8), kl: round(r.kl, 8), baseline: round(before, 8), advantage: round(advantage, 4), sigma: round(sigma, 4), sparsity: sparsity.map((s) => round(s)), pruned: r.pruned });
  }
  const meanSparsity = toSparsity(policy.mean());
  const mean = await measure(`policy mean (${total}/${total})`, meanSparsity);
  candidates.push({ from: 'policy mean', sparsity: meanSparsity, kl: mean.kl, pruned: mean.pruned });

  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return describe({ o, ctx, windows, P, rowwise, uniform, candidates, curve, mean, meanSparsity, features, theta: policy.theta, seconds });
}

interface Outcome {
  o: RlAllocationOptions;
  ctx: AllocationContext;
  windows: CalibrationSet;
  P: number[];
  rowwise: boolean;
  uniform: Evaluation;
  candidates: Candidate[];
  curve: Record<string, unknown>[];
  mean: Evaluation;
  meanSparsity: number[];
  features: number[][];
  theta: number[];
  seconds: number;
}

/** The best measured candidate as the allocation, with the notes and the report that say how it was found. */
function describe(r: Outcome): Allocation {
  const { o, ctx, windows, P, uniform, mean } = r;
  const best = r.candidates.reduce((a, c) => (c.kl < a.kl ? c : a));
  const beats = best.kl < uniform.kl;
  const where = `KL(dense || pruned) on ${windows.samples} calibration window${windows.samples === 1 ? '' : 's'} of ${windows.seqLen} tokens`;
  const notes = [
    `rl-allocation (base ${o.base}, ${o.episodes} episodes, seed ${o.seed}): ${where}: uniform ${uniform.kl.toPrecision(5)}, chosen (${best.from}) ${best.kl.toPrecision(5)}` +
      (beats ? ` (${((1 - best.kl / uniform.kl) * 100).toFixed(1)}% lower)` : ': the agent found nothing better than uniform, so the allocation is uniform'),
    `rl-allocation: per-block sparsities ${best.sparsity.map((s) => s.toFixed(3)).join(', ')} (parameter-weighted mean ${weightedMean(best.sparsity, P).toFixed(6)}; ${best.pruned} weights pruned, uniform ${uniform.pruned})`,
  ];
  if (r.rowwise) notes.push('rl-allocation: each row loses floor(s * its length) weights, so every candidate was shifted to remove at least as many weights as the uniform run (its nominal mean is then within 1/cols of the target)');
  if (windows !== ctx.calibration) notes.push(`rl-allocation: each episode calibrates and measures on ${windows.samples} of the ${ctx.calibration.samples} calibration windows (seed ${o.seed}); the final prune calibrates on all of them`);
  return {
    sparsity: best.sparsity,
    notes,
    report: {
      base: o.base,
      episodes: o.episodes,
      seed: o.seed,
      reward: `-${where}`,
      windows: windows.samples,
      seq_len: windows.seqLen,
      positions: uniform.positions,
      bounds: [BLOCK_SPARSITY_BOUNDS.lo, BLOCK_SPARSITY_BOUNDS.hi],
      block_parameters: P,
      policy: {
        kind: 'gaussian offsets, linear in standardized block features; REINFORCE (natural gradient) with a running baseline',
        features: FEATURE_NAMES,
        block_features: r.features.map((f) => f.map((x) => round(x))),
        theta: r.theta.map((t) => round(t)),
        sigma: [SIGMA_START, SIGMA_END],
      },
      equal_weights_removed: r.rowwise,
      uniform: { kl: uniform.kl, top1: uniform.top1Agreement, pruned: uniform.pruned },
      learning_curve: r.curve,
      policy_mean: { kl: mean.kl, top1: mean.top1Agreement, sparsity: r.meanSparsity, pruned: mean.pruned },
      chosen: { from: best.from, kl: best.kl, pruned: best.pruned, nominal_mean: weightedMean(best.sparsity, P) },
      beats_uniform: beats,
      evaluations: r.candidates.length,
      seconds: round(r.seconds, 3),
    },
  };
}
