// A plain TypeScript AdamW step (PyTorch's torch.optim.AdamW update order) with an
// optional keep-mask and EWC term, in float64 with the moments and weights stored as
// float32 where the native kernel stores them: the reference of test/finetune/adamw.test.ts.
export interface RefHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface RefState {
  /** float32 weights (the master copy for f16/bf16 parameters). */
  w: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export function refAdamWStep(
  s: RefState,
  grad: Float32Array,
  t: number,
  h: RefHyper,
  keep?: (i: number) => boolean,
  ewc?: { lambda: number; fisher: Float32Array; anchor: Float32Array },
): void {
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  for (let i = 0; i < s.w.length; ++i) {
    if (keep && !keep(i)) {
      s.w[i] = 0;
      s.m[i] = 0;
      s.v[i] = 0;
      continue;
    }
    const w = s.w[i];
    let g = grad[i];
    if (ewc) g += ewc.lambda * ewc.fisher[i] * (w - ewc.anchor[i]);
    s.m[i] = h.beta1 * s.m[i] + (1 - h.beta1) * g;
    s.v[i] = h.beta2 * s.v[i] + (1 - h.beta2) * g * g;
    const mhat = s.m[i] / bc1;
    const denom = Math.sqrt(s.v[i]) / Math.sqrt(bc2) + h.eps;
    s.w[i] = w * (1 - h.lr * h.weightDecay) - (h.lr * mhat) / denom;
  }
}
