// The fitness of a score formula in the search: the mean KL(dense || pruned) of the
// next-token distributions over every position of a few calibration windows, the model
// pruned by that formula at the search's sparsity (per row). Cheap by design, as
// `sweep --stats once` is: the dense model's statistics (per-column sums, X^T X when the
// search may use hdiag, gradient moments when it may use grad or fisher) are gathered
// once, and the dense logits of the windows are cached (lib/sweep/quality.ts), so each
// evaluation is score + select + one forward pass per window.
//
// Approximation (stated in the result): every block is scored with the dense model's
// activations, not with those of the already pruned blocks before it as `prune` does.
// The dense model is never written: each evaluation prunes owned copies of the selected
// matrices, seen through a tensor map that shares every other tensor.
import { windowsOf } from '../../allocation/windows';
import type { CalibrationSet } from '../../calibration/sample';
import { ForwardModel } from '../../forward/model';
import type { Backend } from '../../kernels';
import type { LoadedModel, Tensor } from '../../model/types';
import { selectLayers } from '../../prune/layers';
import { gradientPass } from '../../prune/gradient-pass';
import type { StrategyStats } from '../../strategies';
import { DenseReference, queryQuality } from '../../sweep/quality';
import { DenseStats, gatherDenseStats, pruneWithDenseStats } from '../../sweep/stats-once';
import { PhaseClock } from '../../util/clock';
import type { Scratch } from '../../util/scratch';
import type { CompiledFormula } from '../compile';
import type { InputName } from '../grammar';
import { formulaStrategy } from '../strategy';

export interface FitnessOptions {
  /** The dense model (left as it is). */
  model: LoadedModel;
  windows: CalibrationSet;
  /** The inputs the formulas may read: only their statistics are gathered. */
  inputs: readonly InputName[];
  sparsity: number;
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
  /** Where gradient moments go past the pipeline's in-memory budget. */
  scratch?: Scratch;
}

export interface Fitness {
  kl: number;
  top1Agreement: number;
}

export class FormulaFitness {
  private constructor(
    private readonly o: FitnessOptions,
    private readonly stats: DenseStats,
    private readonly weightStats: Map<string, StrategyStats> | undefined,
    private readonly dense: DenseReference,
    private readonly releaseGradients: () => void,
    /** Seconds spent gathering the dense statistics and logits. */
    readonly setupSeconds: number,
  ) {}

  static async create(o: FitnessOptions): Promise<FormulaFitness> {
    const t0 = process.hrtime.bigint();
    const hessian = o.inputs.includes('hdiag');
    // A formula reading hdiag brings X^T X's collector; the others only the shared columns.
    const collectors = hessian ? [formulaStrategy('square(W) / hdiag')] : [];
    const stats = await gatherDenseStats(o.model, o.windows, { methods: collectors, backend: o.backend }, { batch: o.batch, signal: o.signal });
    let weightStats: Map<string, StrategyStats> | undefined;
    let release = () => {};
    const grad = o.inputs.includes('grad');
    const fisher = o.inputs.includes('fisher');
    if (grad || fisher) {
      const moments = formulaStrategy(grad && fisher ? 'grad + fisher' : grad ? 'grad' : 'fisher');
      weightStats = new Map();
      for (const l of selectLayers(o.model.config, o.model.tensors).blocks.flat()) {
        const [rows, cols] = o.model.tensors.get(l.name)!.shape;
        weightStats.set(l.name, moments.collectWeights!(rows, cols, l.name));
      }
      release = (await gradientPass(o.model, o.windows, weightStats, { clock: new PhaseClock(), signal: o.signal, scratch: o.scratch })).release;
    }
    try {
      const dense = await DenseReference.create(new ForwardModel(o.model, { backend: o.backend }), windowsOf(o.windows), undefined, o.signal);
      return new FormulaFitness(o, stats, weightStats, dense, release, Number(process.hrtime.bigint() - t0) / 1e9);
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Prunes copies of the selected matrices by the formula and measures the KL; throws what the formula's evaluation throws (NonFiniteError). */
  async evaluate(f: CompiledFormula): Promise<Fitness> {
    const { model } = this.o;
    const tensors = new Map<string, Tensor>(model.tensors);
    for (const l of selectLayers(model.config, model.tensors).blocks.flat()) {
      const t = model.tensors.get(l.name)!;
      tensors.set(l.name, { ...t, shape: t.shape.slice(), data: t.data.slice() });
    }
    const copy: LoadedModel = { ...model, tensors, close: () => {} };
    const weightStats = this.weightStats;
    await pruneWithDenseStats(copy, formulaStrategy(f), this.stats, { sparsity: this.o.sparsity, backend: this.o.backend }, this.o.signal, {
      weightStats: weightStats && ((_b, layers) => new Map(layers.map((l) => [l.name, weightStats.get(l.name)!]))),
    });
    const q = await queryQuality(new ForwardModel(copy, { backend: this.o.backend }), this.dense, windowsOf(this.o.windows), this.o.signal);
    return { kl: q.kl, top1Agreement: q.top1Agreement };
  }

  /** Frees the gradient moments' scratch pages. Idempotent. */
  release(): void {
    this.releaseGradients();
  }
}
