// Comparing two sets of logits row by row (dense vs pruned model): KL divergence of
// the second from the first and top-1 agreement, computed natively.
import { ShapeError, nativeCall } from '../errors';
import { forwardNative, NativeBackend } from '../native/forward';
import { checkTypedArray } from '../tensor';

export interface KlTop1Result {
  /** KL(softmax(a_r) || softmax(b_r)) per row, in nats. */
  kl: Float64Array;
  /** Argmax of each row of a and of b (lowest index on ties). */
  argmaxA: Int32Array;
  argmaxB: Int32Array;
  klMean: number;
  /** Fraction of rows whose argmaxes agree. */
  top1Agreement: number;
}

export async function klTop1(a: Float32Array, b: Float32Array, vocab: number, opts: { backend?: NativeBackend } = {}): Promise<KlTop1Result> {
  if (!Number.isInteger(vocab) || vocab < 1) throw new ShapeError(`vocab must be a positive integer, got ${vocab}`);
  checkTypedArray(a, 'Float32Array', -1, 'a');
  if (a.length === 0 || a.length % vocab !== 0) throw new ShapeError(`a has ${a.length} elements, not a positive multiple of vocab ${vocab}`);
  checkTypedArray(b, 'Float32Array', a.length, 'b');
  const rows = a.length / vocab;
  const kl = new Float64Array(rows);
  const argmaxA = new Int32Array(rows);
  const argmaxB = new Int32Array(rows);
  const r = await nativeCall(() => forwardNative().fwdKlTop1(a, b, rows, vocab, kl, argmaxA, argmaxB, opts));
  return { kl, argmaxA, argmaxB, klMean: r.klMean, top1Agreement: r.top1Agreement };
}

/** Index of the largest value of each row of x [rows, cols] (lowest index on ties). */
export async function argmaxRows(x: Float32Array, cols: number, opts: { backend?: NativeBackend } = {}): Promise<Int32Array> {
  checkTypedArray(x, 'Float32Array', -1, 'x');
  if (!Number.isInteger(cols) || cols < 1 || x.length === 0 || x.length % cols !== 0)
    throw new ShapeError(`x has ${x.length} elements, not a positive multiple of cols ${cols}`);
  const rows = x.length / cols;
  const out = new Int32Array(rows);
  await nativeCall(() => forwardNative().fwdArgmax(x, rows, cols, out, opts));
  return out;
}
