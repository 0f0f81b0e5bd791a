// SparseGPT pruning with weight reconstruction (Frantar & Alistarh 2023), native and
// multithreaded. See native/cpu/sparsegpt.h for the exact semantics.
import { ArgumentRangeError, nativeCall, PatternError, ShapeError } from '../errors';
import { Backend, checkPattern, checkSparsity, NMPattern } from '../kernels';
import { sparsegptNative } from '../native/sparsegpt';
import { checkMatrix, checkTypedArray, emptyMask, Mask, maskBytes, Matrix } from '../tensor';
import { HessianAccumulator } from './hessian';

export interface SparseGptOptions {
  /** Fraction pruned, in [0, 1) (unstructured). Ignored when `pattern` is given. */
  sparsity?: number;
  /** N:M: keep at most N of every M consecutive weights of a row (M must divide blockSize). */
  pattern?: NMPattern;
  /** Columns per block (default 128, as in the reference code). */
  blockSize?: number;
  /** Damping as a fraction of the mean Hessian diagonal (default 0.01). */
  percdamp?: number;
  /**
   * Unstructured only. 'block' (default, the reference code's choice): the lowest
   * fraction of the whole block tile (all rows x block columns), so per-row sparsity
   * varies. 'row': the same fraction in each row of each block.
   */
  selection?: 'block' | 'row';
  /** 'auto' (default) | 'cpu' | 'cuda' (see Backend in lib/kernels.ts; SparseGPT itself runs on the CPU for now). */
  backend?: Backend;
  /**
   * Repair with a given mask: the keep-mask of another method (Wanda, a learned mask...)
   * decides what is pruned, SparseGPT only reconstructs the kept weights (the same
   * column-by-column updates, q = 0 exactly where the mask prunes). The returned mask is
   * this one, bit for bit. Excludes sparsity, pattern and selection.
   */
  mask?: Pick<Mask, 'rows' | 'cols' | 'bits'>;
}

/** The given mask's bits, checked against W's shape. */
function givenMask(w: Matrix, opts: SparseGptOptions): Uint8Array | undefined {
  const m = opts.mask;
  if (m === undefined) return undefined;
  if (m === null || typeof m !== 'object') throw new ShapeError('mask must be a keep-mask {rows, cols, bits}');
  if (m.rows !== w.rows || m.cols !== w.cols)
    throw new ShapeError(`the given mask is ${String(m.rows)} x ${String(m.cols)} but W is ${w.rows} x ${w.cols}`);
  checkTypedArray(m.bits, 'Uint8Array', maskBytes(w.rows, w.cols), 'mask.bits');
  for (const k of ['sparsity', 'pattern', 'selection'] as const)
    if (opts[k] !== undefined) throw new ArgumentRangeError(`a given mask decides what is pruned: ${k} cannot be given with it`);
  return m.bits;
}

function checkOptions(opts: SparseGptOptions) {
  const blockSize = opts.blockSize ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 2 ** 20)
    throw new ArgumentRangeError(`blockSize must be an integer in [1, 1048576], got ${String(opts.blockSize)}`);
  const percdamp = opts.percdamp ?? 0.01;
  if (typeof percdamp !== 'number' || !Number.isFinite(percdamp) || percdamp < 0)
    throw new ArgumentRangeError(`percdamp must be a finite number >= 0, got ${String(opts.percdamp)}`);
  const selection = opts.selection ?? 'block';
  if (selection !== 'block' && selection !== 'row')
    throw new ArgumentRangeError(`selection must be 'block' or 'row', got '${String(selection)}'`);
  if (opts.pattern !== undefined) {
    const { n, m } = checkPattern(opts.pattern);
    if (blockSize % m !== 0) throw new PatternError(`pattern ${n}:${m} needs blockSize to be a multiple of ${m}, got ${blockSize}`);
    return { sparsity: 0, n, m, blockSize, percdamp, selection, backend: opts.backend };
  }
  return { sparsity: checkSparsity(opts.sparsity ?? 0), blockSize, percdamp, selection, backend: opts.backend };
}

/**
 * Prunes W in place with SparseGPT given the layer's input statistic, and returns the
 * keep-mask (with `mask`: prunes exactly that mask's zeros and reconstructs the rest).
 * Kept weights are updated to compensate for the pruned ones and written back in W's
 * dtype (round to nearest even). W is left untouched when the call
 * rejects: NonFiniteError (W or the statistic), ShearsError code E_NOT_PD (Hessian
 * not positive definite after damping), ShapeError, SparsityError, PatternError.
 */
export async function sparsegptPrune(w: Matrix, h: HessianAccumulator, opts: SparseGptOptions = {}): Promise<Mask> {
  checkMatrix(w);
  // Duck-typed: instanceof fails across module copies and realms.
  if (!h || typeof h.exclusive !== 'function' || !ArrayBuffer.isView(h.sum))
    throw new ShapeError('sparsegptPrune needs a HessianAccumulator as its statistic');
  if (h.cols !== w.cols) throw new ShapeError(`the Hessian is ${h.cols} wide but W has ${w.cols} columns (inputs)`);
  const keepBits = givenMask(w, opts);
  const o = { ...checkOptions(opts), keepBits };
  if (h.sum.length !== w.cols * w.cols) throw new ShapeError(`the Hessian sum has ${h.sum.length} elements, expected ${w.cols * w.cols}`);
  // Adds queued after this call wait until the prune has read the statistic.
  return h.exclusive(async () => {
    if (h.count === 0) throw new ShapeError('the Hessian has no calibration rows (count 0): add activations before pruning');
    const mask = emptyMask(w.rows, w.cols);
    mask.pruned = await nativeCall(() => sparsegptNative().sparsegptPrune(w, h.sum, h.count, o, mask));
    return mask;
  });
}
