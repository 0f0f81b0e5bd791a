// The environment of query-aware pruning: each query followed by the dense model's own
// continuation of it (greedy by default, or sampled), so that calibration and
// evaluation cover the positions where the model writes answers, not only the prompts.
// A continuation is at most `generateTokens` long, shorter when the context ends first
// or the model emits EOS (kept, as the last token). Sampled draws are seeded per query
// from (seed, query text): a query's continuation does not depend on its neighbours.
import { ArgumentRangeError } from '../errors';
import { generate } from '../forward/generate';
import { ForwardModel } from '../forward/model';
import { checkSampling, SamplingOptions } from '../forward/sampling';
import { textSeed } from './hash';

export interface QuerySequence {
  /** The query's tokens (BOS first) followed by the continuation's. */
  ids: Int32Array;
  /** Index in ids of the first continuation token (= the query's length). */
  answerStart: number;
}

export interface EnvironmentOptions extends SamplingOptions {
  /** Tokens generated per query (0: the queries alone). */
  generateTokens: number;
  /** Stop a continuation at this id (default: the model's EOS; null: never). */
  eos?: number | null;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Builds the sequences from queries already tokenized (`texts[i]` is the text of
 * `ids[i]`, for the per-query seeds). Memory: the token ids, and one query's KV cache at a time.
 */
export async function buildEnvironment(model: ForwardModel, queries: { texts: readonly string[]; ids: readonly Int32Array[] }, o: EnvironmentOptions): Promise<QuerySequence[]> {
  const n = o.generateTokens;
  if (!Number.isInteger(n) || n < 0) throw new ArgumentRangeError(`generateTokens (--generate-tokens) must be an integer >= 0, got ${String(n)}`);
  const sampling = checkSampling(o);
  const ctx = model.config.contextLength;
  const out: QuerySequence[] = [];
  for (let i = 0; i < queries.ids.length; i++) {
    o.signal?.throwIfAborted();
    const q = queries.ids[i];
    if (q.length === 0 || q.length > ctx)
      throw new ArgumentRangeError(`query ${i + 1} has ${q.length} tokens: a query needs 1 to ${ctx} (the context length)`);
    const room = Math.min(n, ctx - q.length);
    const seed = sampling.greedy ? 0 : textSeed(sampling.seed, queries.texts[i]);
    const cont = room > 0 ? await generate(model, q, room, { ...sampling, seed, eos: o.eos, signal: o.signal }) : [];
    const ids = new Int32Array(q.length + cont.length);
    ids.set(q);
    ids.set(cont, q.length);
    out.push({ ids, answerStart: q.length });
    o.onProgress?.(i + 1, queries.ids.length);
  }
  return out;
}
