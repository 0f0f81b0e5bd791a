// End-to-end quality of a pruned model against the dense one on held-out queries:
// for every position of every query, KL(dense || pruned) of the next-token
// distributions and whether their top-1 tokens agree; plus perplexity on the
// evaluation text with the standard protocol (lib/eval/perplexity).
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
}

/**
 * Perplexity on the evaluation windows and KL / top-1 agreement on the queries. When
 * the queries are the windows themselves, one forward pass per window serves both:
 * the same computation as lib/eval/perplexity with batch 1 (mean over windows of each
 * window's mean NLL of its L-1 next-token predictions).
 */
export async function cellQuality(fm: ForwardModel, data: SweepData, dense: DenseReference, signal?: AbortSignal): Promise<CellQuality> {
  if (!data.queriesAreWindows) {
    const perplexity = await evalPerplexity(fm, data);
    return { perplexity, ...(await queryQuality(fm, dense, data.queries, signal)) };
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
  return { perplexity: Math.exp(windowNll.reduce((a, b) => a + b, 0) / n), kl: klSum / positions, top1Agreement: agree / positions, positions };
}

export async function evalPerplexity(fm: ForwardModel, data: SweepData): Promise<number> {
  const r = await perplexity(fm, data.evalTokens, { seqLen: data.evalSeqLen, maxWindows: data.windows });
  return r.perplexity;
}
