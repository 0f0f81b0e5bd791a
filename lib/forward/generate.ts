// Generation with a KV cache: the prompt runs once, then one token per step, greedy
// (default) or sampled (./sampling.ts: temperature, top-k, seed).
// `cache: false` recomputes the whole prefix at every step instead (a cross-check).
import { ArgumentRangeError } from '../errors';
import { argmaxRows } from './compare';
import { ForwardModel } from './model';
import { SamplingOptions, TokenSampler } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  /** Stop after emitting this id (default: config.eosTokenId; null: never stop early). */
  eos?: number | null;
  /** Use a KV cache (default true). */
  cache?: boolean;
  /** Checked between steps: an abort rejects with its reason. */
  signal?: AbortSignal;
}

/** Returns the generated ids (the prompt not included), at most maxTokens of them. */
export async function generate(
  model: ForwardModel,
  promptIds: Int32Array | readonly number[],
  maxTokens: number,
  options: GenerateOptions = {},
): Promise<number[]> {
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new ArgumentRangeError(`maxTokens (--max-tokens) must be an integer >= 0, got ${maxTokens}`);
  const ids = Array.from(promptIds);
  if (ids.length === 0) throw new ArgumentRangeError('generate needs at least one prompt token (for example BOS)');
  // Past the context length the positions are ones the model never saw in training: refused, as prune refuses such a --seq-len.
  const ctx = model.config.contextLength;
  if (ids.length + maxTokens > ctx)
    throw new ArgumentRangeError(
      `the prompt (${ids.length} token${ids.length === 1 ? '' : 's'}) plus maxTokens (--max-tokens) ${maxTokens} exceed the model's context length ${ctx}: ` +
        `ask for at most ${Math.max(0, ctx - ids.length)} tokens`,
    );
  const eos = options.eos === undefined ? model.config.eosTokenId : options.eos;
  const H = model.config.hiddenSize;
  const sampler = new TokenSampler(options);
  const out: number[] = [];
  const cache = options.cache === false || maxTokens === 0 ? null : model.createCache(ids.length + maxTokens);
  for (let step = 0; step < maxTokens; ++step) {
    options.signal?.throwIfAborted();
    let hidden: Float32Array;
    if (cache) hidden = await model.forwardCached(step === 0 ? ids : ids.slice(-1), cache);
    else hidden = await model.forward(ids, 1, ids.length);
    const last = hidden.subarray(hidden.length - H);
    const logits = await model.logits(last, 1);
    // Greedy keeps the device argmax it always had; sampling draws on the CPU.
    const next = sampler.greedy ? (await argmaxRows(logits, logits.length, { backend: model.backend }))[0] : (await sampler.next(logits, logits.length))[0];
    out.push(next);
    ids.push(next);
    if (eos !== undefined && eos !== null && next === eos) break;
  }
  return out;
}
