// End-to-end quality of a pruned model against the dense one on held-out queries:
// for every position of every query, KL(dense || pruned) of the next-token
// distributions and whether their top-1 tokens agree; plus perplexity on the
// evaluation text with the standard protocol (lib/eval/perplexity).
//
// A non-finite result: the dense model's is an error (lib/eval/nonfinite.ts names the
// first block whose output is not finite: nothing can be compared with it); a pruned
// cell's is a result (a diverged model), kept with a note saying where it diverges.
import { describeSite, locateNonFinite, nextTokenTargets } from '../eval/nonfinite';
import { perplexity } from '../eval/perplexity';
import { klTop1 } from '../forward/compare';
import { ForwardModel } from '../forward/model';
import { SweepData } from './data';

/** Dense logits are kept in memory up to this many bytes in all, recomputed otherwise. */
export const DENSE_LOGITS_BUDGET = 256 * 2 ** 20;

export async function queryLogits(fm: ForwardModel, ids: Int32Array): Promise<Float32Array> {
  const hidden = await fm.forward(ids, 1, ids.length);
  return fm.logits(hidden, ids.length);
}

/** The dense model's logits for each query: cached when they fit the budget. */
export class DenseReference {
  private readonly cache: Float32Array[] | null;

  private constructor(
    private readonly fm: ForwardModel,
    private readonly queries: Int32Array[],
    cache: Float32Array[] | null,
  ) {
    this.cache = cache;
  }

  static async create(fm: ForwardModel, queries: Int32Array[], budgetBytes = DENSE_LOGITS_BUDGET, signal?: AbortSignal): Promise<DenseReference> {
    const bytes = queries.reduce((s, q) => s + q.length, 0) * fm.config.vocabSize * 4;
    if (bytes > budgetBytes) return new DenseReference(fm, queries, null);
    const cache: Float32Array[] = [];
    for (const q of queries) {
      signal?.throwIfAborted();
      cache.push(await queryLogits(fm, q));
    }
    return new DenseReference(fm, queries, cache);
  }

  get cached(): boolean {
    return this.cache !== null;
  }

  async logits(i: number): Promise<Float32Array> {
    return this.cache ? this.cache[i] : queryLogits(this.fm, this.queries[i]);
  }
}

export interface QueryQuality {
  /** Mean KL(dense || pruned) over all positions of all queries, in nats. */
  kl: number;
  top1Agreement: number;
  positions: number;
}

export async function queryQuality(pruned: ForwardModel, dense: DenseReference, queries: Int32Array[], signal?: AbortSignal): Promise<QueryQuality> {
  let klSum = 0;
  let agree = 0;
  let positions = 0;
  const vocab = pruned.config.vocabSize;
  for (let i = 0; i < queries.length; i++) {
    signal?.throwIfAborted();
    const r = await klTop1(await dense.logits(i), await queryLogits(pruned, queries[i]), vocab, { backend: pruned.backend });
    const rows = queries[i].length;
    klSum += r.klMean * rows;
    agree += r.top1Agreement * rows;
    positions += rows;
  }
  return { kl: klSum / positions, top1Agreement: agree / positions, positions };
}

export interface CellQuality extends QueryQuality {
  perplexity: number;
  /** Where a non-finite perplexity first appears in the forward pass (only then). */
  nonFinite?: string;
}

/** For a non-finite cell: the first stage of the forward pass of the first non-finite window that is not finite. */
async function divergence(fm: ForwardModel, data: SweepData, windowNll: readonly number[]): Promise<string | undefined> {
  const w = windowNll.findIndex((x) => !Number.isFinite(x));
  if (w < 0) return undefined;
  const L = data.evalSeqLen;
  const ids = data.evalTokens.subarray(w * L, (w + 1) * L);
  return `perplexity window ${w} has mean NLL ${String(windowNll[w])}: ${describeSite(await locateNonFinite(fm, ids, nextTokenTargets(ids)), fm.numLayers)}`;
}

/**
 * Perplexity on the evaluation windows and KL / top-1 agreement on the queries. When
 * the queries are the windows themselves, one forward pass per window serves both:
 * the same computation as lib/eval/perplexity with batch 1 (mean over windows of each
 * window's mean NLL of its L-1 next-token predictions).
 */
export async function cellQuality(fm: ForwardModel, data: SweepData, dense: DenseReference, signal?: AbortSignal): Promise<CellQuality> {
  if (!data.queriesAreWindows) {
    const r = await perplexity(fm, data.evalTokens, { seqLen: data.evalSeqLen, maxWindows: data.windows, nonFinite: 'keep' });
    const nonFinite = Number.isFinite(r.perplexity) ? undefined : await divergence(fm, data, r.windowNll);
    return { perplexity: r.perplexity, ...(await queryQuality(fm, dense, data.queries, signal)), ...(nonFinite ? { nonFinite } : {}) };
  }
  const L = data.evalSeqLen;
  const vocab = fm.config.vocabSize;
  const windowNll: number[] = [];
  let klSum = 0;
  let agree = 0;
  for (let w = 0; w < data.queries.length; w++) {
    signal?.throwIfAborted();
    const ids = data.queries[w];
    const hidden = await fm.forward(ids, 1, L);
    const targets = new Int32Array(L);
    targets.set(ids.subarray(1));
    targets[L - 1] = -1;
    windowNll.push((await fm.nll(hidden, targets)).mean);
    const r = await klTop1(await dense.logits(w), await fm.logits(hidden, L), vocab, { backend: fm.backend });
    klSum += r.klMean * L;
    agree += r.top1Agreement * L;
  }
  const n = windowNll.length;
  const positions = n * L;
  const ppl = Math.exp(windowNll.reduce((a, b) => a + b, 0) / n);
  const nonFinite = Number.isFinite(ppl) ? undefined : await divergence(fm, data, windowNll);
  return { perplexity: ppl, kl: klSum / positions, top1Agreement: agree / positions, positions, ...(nonFinite ? { nonFinite } : {}) };
}

/** The dense model's perplexity: a non-finite one is a NonFiniteError naming where it appears. */
export async function densePerplexity(fm: ForwardModel, data: SweepData): Promise<number> {
  const r = await perplexity(fm, data.evalTokens, { seqLen: data.evalSeqLen, maxWindows: data.windows, nonFinite: 'error' });
  return r.perplexity;
}
