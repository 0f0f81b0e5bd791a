// A plain float64 reference of SparseGPT written from the description in
// /work/shared/notes/protocols.md and native/cpu/sparsegpt.h: dense matrices, textbook
// Cholesky, H^-1 formed explicitly and factored again (the reference code's route),
// sorting for every selection. Slow and simple on purpose; tests only.

export interface RefOptions {
  sparsity?: number;
  pattern?: { n: number; m: number };
  blockSize?: number;
  percdamp?: number;
  selection?: 'block' | 'row';
  /** Fixed-mask mode: 1 = pruned, per weight (rows x cols); no selection happens. */
  pruned?: ArrayLike<number>;
}

/** S = X^T X for x [rows, cols] (row-major), in float64. */
export function refXtX(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const s = new Float64Array(cols * cols);
  for (let t = 0; t < rows; t++)
    for (let i = 0; i < cols; i++) {
      const a = x[t * cols + i];
      for (let j = 0; j < cols; j++) s[i * cols + j] += a * x[t * cols + j];
    }
  return s;
}

/** Lower L with A = L L^T; throws when a pivot is not positive. */
export function refCholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new Error(`reference: matrix not positive definite at ${j}`);
    l[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** A^-1 from its Cholesky factor: solve L L^T X = I column by column. */
function refInverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  const y = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
      y[i] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * inv[k * n + c];
      inv[i * n + c] = s / l[i * n + i];
    }
  }
  return inv;
}

/** Upper U with H^-1 = U^T U, where H = 2 S / count, dead inputs fixed, damped. */
export function refHinvUpper(
  s: ArrayLike<number>,
  n: number,
  count: number,
  percdamp: number,
): { u: Float64Array; dead: boolean[] } {
  const h = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) h[i] = (2 / count) * s[i];
  const dead: boolean[] = [];
  let trace = 0;
  for (let j = 0; j < n; j++) {
    dead.push(h[j * n + j] === 0);
    if (dead[j]) h[j * n + j] = 1;
    trace += h[j * n + j];
  }
  const damp = (percdamp * trace) / n;
  for (let j = 0; j < n; j++) h[j * n + j] += damp;
  const hinv = refInverseFromCholesky(refCholesky(h, n), n);
  // Symmetrize the computed inverse (it is symmetric up to rounding) before factoring.
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) hinv[i * n + j] = hinv[j * n + i] = (hinv[i * n + j] + hinv[j * n + i]) / 2;
  const l2 = refCholesky(hinv, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = l2[j * n + i];
  return { u, dead };
}

/** Indices of the k lowest scores (ties: lower index first). */
function lowest(scores: number[], k: number): number[] {
  const idx = scores.map((_, i) => i);
  idx.sort((a, b) => scores[a] - scores[b] || a - b);
  return idx.slice(0, k);
}

/**
 * SparseGPT on w (rows x cols, float64 values). Returns the new weights and a
 * pruned flag per weight (1 = pruned).
 */
export function refSparseGpt(
  w0: ArrayLike<number>,
  rows: number,
  cols: number,
  s: ArrayLike<number>,
  count: number,
  opts: RefOptions = {},
): { w: Float64Array; pruned: Uint8Array } {
  const bs = opts.blockSize ?? 128;
  const sparsity = opts.sparsity ?? 0;
  const { u, dead } = refHinvUpper(s, cols, count, opts.percdamp ?? 0.01);
  const w = Float64Array.from(w0);
  const fixed = opts.pruned !== undefined;
  const pruned = fixed ? Uint8Array.from(opts.pruned!) : new Uint8Array(rows * cols);
  // Dead inputs are zeroed; with a fixed mask only where it prunes.
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) if (dead[j] && (!fixed || pruned[r * cols + j])) w[r * cols + j] = 0;
  const score = (r: number, j: number) => (w[r * cols + j] * w[r * cols + j]) / (u[j * cols + j] * u[j * cols + j]);

  for (let i1 = 0; i1 < cols; i1 += bs) {
    const i2 = Math.min(cols, i1 + bs);
    const c = i2 - i1;
    if (!fixed && !opts.pattern) {
      if ((opts.selection ?? 'block') === 'block') {
        const sc: number[] = [];
        for (let r = 0; r < rows; r++) for (let j = i1; j < i2; j++) sc.push(score(r, j));
        for (const t of lowest(sc, Math.floor(sparsity * (rows * c)))) pruned[Math.floor(t / c) * cols + i1 + (t % c)] = 1;
      } else {
        for (let r = 0; r < rows; r++) {
          const sc: number[] = [];
          for (let j = i1; j < i2; j++) sc.push(score(r, j));
          for (const t of lowest(sc, Math.floor(sparsity * c))) pruned[r * cols + i1 + t] = 1;
        }
      }
    }
    const err = new Float64Array(rows * c);
    for (let i = 0; i < c; i++) {
      const ci = i1 + i;
      for (let r = 0; r < rows; r++) {
        if (!fixed && opts.pattern && ci % opts.pattern.m === 0) {
          const len = Math.min(opts.pattern.m, i2 - ci);
          const sc: number[] = [];
          for (let g = 0; g < len; g++) sc.push(score(r, ci + g));
          for (const t of lowest(sc, Math.max(0, len - opts.pattern.n))) pruned[r * cols + ci + t] = 1;
        }
        const wv = w[r * cols + ci];
        const q = pruned[r * cols + ci] ? 0 : wv;
        const e = (wv - q) / u[ci * cols + ci];
        err[r * c + i] = e;
        for (let j = ci + 1; j < i2; j++) w[r * cols + j] -= e * u[ci * cols + j];
        w[r * cols + ci] = q;
      }
    }
    for (let r = 0; r < rows; r++)
      for (let j = i2; j < cols; j++) {
        let acc = 0;
        for (let i = 0; i < c; i++) acc += err[r * c + i] * u[(i1 + i) * cols + j];
        w[r * cols + j] -= acc;
      }
  }
  return { w, pruned };
}
