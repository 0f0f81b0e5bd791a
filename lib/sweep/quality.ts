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
    const r = await klTop1(await dense.logits(i), await queryLogits(pruned, queries[i]), vocab);
    const rows = queries[i].length;
    klSum += r.klMean * rows;
    agree += r.top1Agreement * rows;
    positions += rows;
  }
  return { kl: klSum / positions, top1Agreement: agree / positions, positions };
}

export async function evalPerplexity(fm: ForwardModel, data: SweepData, maxWindows?: number): Promise<number> {
  const r = await perplexity(fm, data.evalTokens, { seqLen: data.evalSeqLen, maxWindows });
  return r.perplexity;
}
