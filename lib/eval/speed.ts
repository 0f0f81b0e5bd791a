// Tokens per second of a model in shears' forward pass, measured the same way for every
// model of a comparison (dense and pruned side by side in one run, as absolute times
// drift on shared machines):
//   prefill: 1 x T tokens through the model and the logits of the last one;
//   decode:  D single-token steps after one token, each with its logits row;
// each the fastest of `reps` runs after one warm-up.
import type { ForwardModel } from '../forward/model';

export interface SpeedSettings {
  /** Prefill length T (1 x T tokens). */
  prefillTokens: number;
  /** Decode steps D (0: no decode measurement). */
  decodeTokens: number;
  reps: number;
}

export interface SpeedResult {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond?: number;
}

/**
 * Runs fn `reps` times after one warm-up (`before`, untimed, ahead of each run); returns
 * the fastest run's ms: on a machine shared with other work the fastest run is the one
 * least slowed by it (the median moved by 3x between identical files there).
 */
export async function bestMs(reps: number, fn: () => Promise<unknown>, before?: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i <= reps; i++) {
    if (before) await before();
    const t0 = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i > 0) best = Math.min(best, ms);
  }
  return best;
}

/** Token ids for timing: `ids` repeated (or cut) to n. */
export function timingIds(ids: ArrayLike<number>, n: number): number[] {
  return Array.from({ length: n }, (_, i) => ids[i % ids.length]);
}

/** Prefill and decode tokens/s of `fm` on `ids` (at least max(T, D + 1) of them). */
export async function measureSpeed(fm: ForwardModel, ids: readonly number[], o: SpeedSettings): Promise<SpeedResult> {
  const h = fm.config.hiddenSize;
  const T = o.prefillTokens;
  const prefillMs = await bestMs(o.reps, async () => {
    const hidden = await fm.forward(ids.slice(0, T), 1, T);
    await fm.logits(hidden.subarray((T - 1) * h), 1);
  });
  let decodeTokensPerSecond: number | undefined;
  if (o.decodeTokens > 0) {
    const D = o.decodeTokens;
    let cache = fm.createCache(D + 1);
    const ms = await bestMs(
      Math.max(1, o.reps - 1),
      async () => {
        for (let i = 1; i <= D; i++) await fm.logits(await fm.forwardCached([ids[i]], cache), 1);
      },
      async () => {
        cache = fm.createCache(D + 1);
        await fm.forwardCached([ids[0]], cache);
      },
    );
    decodeTokensPerSecond = (D * 1000) / ms;
  }
  return { prefillTokensPerSecond: (T * 1000) / prefillMs, decodeTokensPerSecond };
}

/**
 * Two models' speeds side by side: `rounds` alternating measurements (one timed run of
 * each after its warm-up), the fastest of each kept, so that a change of load on a
 * shared machine slows both alike and their ratio holds.
 */
export async function measureSpeedPair(a: ForwardModel, b: ForwardModel, ids: readonly number[], o: SpeedSettings): Promise<[SpeedResult, SpeedResult]> {
  const best = (x: SpeedResult | undefined, y: SpeedResult): SpeedResult => ({
    prefillTokensPerSecond: Math.max(x?.prefillTokensPerSecond ?? 0, y.prefillTokensPerSecond),
    ...(y.decodeTokensPerSecond !== undefined ? { decodeTokensPerSecond: Math.max(x?.decodeTokensPerSecond ?? 0, y.decodeTokensPerSecond) } : {}),
  });
  let ra: SpeedResult | undefined;
  let rb: SpeedResult | undefined;
  for (let i = 0; i < o.reps; i++) {
    ra = best(ra, await measureSpeed(a, ids, { ...o, reps: 1 }));
    rb = best(rb, await measureSpeed(b, ids, { ...o, reps: 1 }));
  }
  return [ra!, rb!];
}
