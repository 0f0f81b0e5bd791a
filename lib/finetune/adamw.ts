// AdamW over the parameter tensors of a loaded model, one native step per tensor
// (native/cpu/adamw.cc). The model's tensors are replaced by owned copies the optimizer
// updates in place (memory-mapped views are never written), so the ForwardModel and
// lossAndGradients of the next step read the updated weights, and a writer writes them.
// f16/bf16 tensors keep a float32 master copy; the stored values are its rounding.
import { ArgumentRangeError, nativeCall } from '../errors';
import { toFloat32 } from '../kernels';
import { LoadedModel, Tensor } from '../model/types';
import { NativeAdamWState, NativeDTyped, optimNative } from '../native/optim';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay of the weight matrices (tensors of rank 2); norms and biases never decay. */
  weightDecay: number;
}

export interface EwcTerm {
  lambda: number;
  /** Per tensor name: the Fisher diagonal up to `fisherScale` (F = fisherScale * fisher; float32, the tensor's layout). */
  fisher: Map<string, Float32Array>;
  fisherScale: number;
  /** Per tensor name: the anchor weights w* in their own storage (e.g. views of the input's mapping). */
  anchor: Map<string, NativeDTyped>;
}

interface Slot {
  tensor: Tensor;
  state: NativeAdamWState;
  keep?: Uint8Array;
  decays: boolean;
}

export class AdamW {
  private readonly slots = new Map<string, Slot>();
  private t = 0;

  private constructor(
    private readonly hyper: AdamWHyper,
    private readonly ewc: EwcTerm | undefined,
  ) {}

  /**
   * An optimizer for the named tensors of `model` (each replaced by an owned copy).
   * keep: packed keep-masks of the tensors whose zeros are held (lib/finetune/mask.ts).
   */
  static async create(model: LoadedModel, names: readonly string[], keep: Map<string, Uint8Array>, hyper: AdamWHyper, ewc?: EwcTerm): Promise<AdamW> {
    const opt = new AdamW(hyper, ewc);
    for (const name of names) {
      const t = model.tensors.get(name);
      if (!t) throw new ArgumentRangeError(`no tensor ${name} in ${model.path}`);
      const tensor: Tensor = { ...t, shape: [...t.shape], data: t.data.slice() };
      model.tensors.set(name, tensor);
      const n = tensor.data.length;
      const state: NativeAdamWState = { m: new Float32Array(n), v: new Float32Array(n) };
      if (tensor.dtype !== 'f32') state.master = await toFloat32(tensor.data as Uint16Array, tensor.dtype);
      opt.slots.set(name, { tensor, state, keep: keep.get(name), decays: tensor.shape.length === 2 });
    }
    return opt;
  }

  /** Steps taken so far. */
  get step(): number {
    return this.t;
  }

  /** The tensors it trains, by name. */
  get names(): string[] {
    return [...this.slots.keys()];
  }

  /** One step with these gradients (every trained tensor must have one). */
  async update(grads: Map<string, Float32Array>): Promise<void> {
    this.t += 1;
    const h = this.hyper;
    for (const [name, s] of this.slots) {
      const g = grads.get(name);
      if (!g) throw new ArgumentRangeError(`no gradient for ${name}`);
      const fisher = this.ewc?.fisher.get(name);
      const anchor = this.ewc?.anchor.get(name);
      await nativeCall(() =>
        optimNative().adamwStep({ data: s.tensor.data, dtype: s.tensor.dtype }, g, s.state, {
          step: this.t,
          lr: h.lr,
          beta1: h.beta1,
          beta2: h.beta2,
          eps: h.eps,
          weightDecay: s.decays ? h.weightDecay : 0,
          keep: s.keep,
          // lambda * F = (lambda * scale) * S2
          ewc: this.ewc && fisher && anchor ? { lambda: this.ewc.lambda * this.ewc.fisherScale, fisher, anchor: anchor.data, anchorDtype: anchor.dtype } : undefined,
        }),
      );
    }
  }

  /**
   * The EWC penalty lambda/2 * sum F (w - w*)^2 at the current weights, over the trained
   * weights (a pruned weight is held at zero: its term is a constant, left out); 0 without EWC.
   */
  ewcPenalty(): number {
    if (!this.ewc) return 0;
    let sum = 0;
    for (const [name, s] of this.slots) {
      const f = this.ewc.fisher.get(name);
      const a = this.ewc.anchor.get(name);
      if (!f || !a) continue;
      const w = s.state.master ?? (s.tensor.data as Float32Array);
      sum += optimNative().ewcPenalty(w, f, a, s.keep);
    }
    return (this.ewc.lambda / 2) * this.ewc.fisherScale * sum;
  }
}
