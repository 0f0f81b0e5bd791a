// Perplexity with the WikiText-2 protocol of Wanda / SparseGPT
// (shared/notes/protocols.md): the token stream (already tokenized, BOS as the
// caller wants it) is cut into n = floor(N / L) non-overlapping windows of L tokens,
// a trailing partial window dropped; each window's score is the mean NLL of its L-1
// next-token predictions; perplexity = exp(mean over windows of those means).
import { ArgumentRangeError } from '../errors';
import { ForwardModel } from '../forward/model';
import { assertFiniteResult, nextTokenTargets } from './nonfinite';

export interface PerplexityOptions {
  /** Window length L (default: config.contextLength). */
  seqLen?: number;
  /** Evaluate only the first windows (default: all). */
  maxWindows?: number;
  /** Windows run together through each block (default 1). */
  batch?: number;
  /** Called after each group of windows. */
  onProgress?: (done: number, total: number) => void;
  /**
   * A non-finite perplexity: 'error' (default) throws NonFiniteError naming the first
   * block whose output is not finite (found by re-running the first such window block
   * by block); 'keep' returns it (a sweep records a diverged model as a result).
   */
  nonFinite?: 'error' | 'keep';
}

export interface PerplexityResult {
  perplexity: number;
  /** Mean over windows of the per-window mean NLL (nats); perplexity = exp(meanNll). */
  meanNll: number;
  windows: number;
  seqLen: number;
  /** Tokens covered by the windows (windows * seqLen). */
  tokens: number;
  seconds: number;
  /** Per-window mean NLL. */
  windowNll: number[];
}

export async function perplexity(
  model: ForwardModel,
  tokens: Int32Array | readonly number[],
  options: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const start = process.hrtime.bigint();
  const L = options.seqLen ?? model.config.contextLength;
  if (!Number.isInteger(L) || L < 2) throw new ArgumentRangeError(`seqLen (--seq-len) must be an integer >= 2, got ${String(L)}`);
  const ids = Int32Array.from(tokens as ArrayLike<number>);
  let n = Math.floor(ids.length / L);
  if (options.maxWindows !== undefined) {
    if (!Number.isInteger(options.maxWindows) || options.maxWindows < 1)
      throw new ArgumentRangeError(`maxWindows (--max-windows) must be a positive integer, got ${String(options.maxWindows)}`);
    n = Math.min(n, options.maxWindows);
  }
  if (n === 0) throw new ArgumentRangeError(`perplexity needs at least one window of ${L} tokens (seqLen, --seq-len), got ${ids.length} tokens`);
  const batch = Math.min(options.batch ?? 1, n);
  if (!Number.isInteger(batch) || batch < 1) throw new ArgumentRangeError(`batch must be a positive integer, got ${String(options.batch)}`);

  const windowNll: number[] = [];
  for (let w0 = 0; w0 < n; w0 += batch) {
    const nb = Math.min(batch, n - w0);
    const window = ids.subarray(w0 * L, (w0 + nb) * L);
    const hidden = await model.forward(window, nb, L);
    // Row t of a window predicts token t+1; the last row of each window predicts nothing.
    const targets = new Int32Array(nb * L);
    for (let b = 0; b < nb; ++b) targets.set(nextTokenTargets(window.subarray(b * L, (b + 1) * L)), b * L);
    const H = model.config.hiddenSize;
    for (let b = 0; b < nb; ++b) {
      const r = await model.nll(hidden.subarray(b * L * H, (b + 1) * L * H), targets.subarray(b * L, (b + 1) * L));
      windowNll.push(r.mean);
    }
    options.onProgress?.(w0 + nb, n);
  }
  const meanNll = windowNll.reduce((a, b) => a + b, 0) / n;
  if (!Number.isFinite(meanNll) && options.nonFinite !== 'keep') {
    const w = Math.max(0, windowNll.findIndex((x) => !Number.isFinite(x)));
    await assertFiniteResult(model, meanNll, `perplexity (window ${w} of ${n} has mean NLL ${String(windowNll[w])})`, ids.subarray(w * L, (w + 1) * L));
  }
  return {
    perplexity: Math.exp(meanNll),
    meanNll,
    windows: n,
    seqLen: L,
    tokens: n * L,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    windowNll,
  };
}

