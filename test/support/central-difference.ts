// Checking analytic gradients against float64 central differences of a reference loss: at
// the gradient's largest entry and a few random ones, relative to that largest entry (a
// wrong or missing term moves a gradient by its own size; float32 rounding does not).
export interface CentralDifferenceCheck {
  /** Names the tensor in the error. */
  label: string;
  tol: number;
  /** Uniform in [0, 1): picks the random entries. */
  pick: () => number;
  step?: number;
  samples?: number;
}

/** Throws naming the first entry off by more than tol; returns the worst relative error. */
export function checkCentralDifferences(g: Float32Array, p: Float64Array, loss: () => number, o: CentralDifferenceCheck): number {
  const step = o.step ?? 1e-6;
  let argmax = 0;
  for (let i = 1; i < g.length; ++i) if (Math.abs(g[i]) > Math.abs(g[argmax])) argmax = i;
  const scale = Math.max(Math.abs(g[argmax]), 1e-3);
  let worst = 0;
  for (const i of [argmax, ...Array.from({ length: o.samples ?? 3 }, () => Math.floor(o.pick() * g.length))]) {
    const w = p[i];
    p[i] = w + step;
    const up = loss();
    p[i] = w - step;
    const down = loss();
    p[i] = w;
    const fd = (up - down) / (2 * step);
    const err = Math.abs(fd - g[i]) / scale;
    worst = Math.max(worst, err);
    if (!(err <= o.tol)) throw new Error(`${o.label}[${i}]: analytic ${g[i]}, central difference ${fd}`);
  }
  return worst;
}
