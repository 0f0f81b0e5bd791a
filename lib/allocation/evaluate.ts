// How good a per-block allocation is, measured: prune a copy of the dense model at the
// given per-block sparsities with the base method, through the same sequential pipeline
// a prune runs (lib/prune/pipeline.ts: statistics of each block on the pruned blocks'
// outputs), then the mean KL(dense || pruned) of the next-token distributions over every
// position of the calibration windows (lib/sweep/quality.ts's queryQuality, the dense
// logits cached within its budget and recomputed per window beyond it).
//
// The dense model is never written: each evaluation prunes owned copies of the selected
// matrices, seen through a tensor map that shares every other tensor with the dense
// model, and drops them when it returns. Memory: one copy of the selected matrices, the
// pipeline's calibration hidden states, the dense logits cache (<= 256 MiB) and one
// window's logits. Deterministic: the pipeline and the KL are.
import type { CalibrationSet } from '../calibration/sample';
import { ForwardModel } from '../forward/model';
import type { Backend } from '../kernels';
import type { LoadedModel, Tensor } from '../model/types';
import { selectLayers } from '../prune/layers';
import { LayerResult, runPipeline } from '../prune/pipeline';
import type { Strategy } from '../strategies';
import { DenseReference, queryQuality } from '../sweep/quality';
import type { BlockShapes } from './project';
import { windowsOf } from './windows';

export interface EvaluatorOptions {
  /** The dense model (left as it is). */
  model: LoadedModel;
  /** The windows the pipeline calibrates on and the KL is measured over. */
  windows: CalibrationSet;
  /** A fresh strategy of the base method for each evaluation (strategies may keep notes). */
  createStrategy: () => Strategy;
  include?: string[];
  exclude?: string[];
  backend?: Backend;
  batch?: number;
  signal?: AbortSignal;
}

export interface Evaluation {
  /** Mean KL(dense || pruned) over every position of the windows, in nats. */
  kl: number;
  top1Agreement: number;
  positions: number;
  /** The pipeline's per-layer results (achieved sparsity, outlier columns). */
  layers: LayerResult[];
  /** Weights pruned in all. */
  pruned: number;
}

/** Prunes copies of a dense model at per-block sparsities and measures their calibration KL. */
export class AllocationEvaluator {
  /** Weights of each block's selected matrices (0: nothing of that block is pruned). */
  readonly blockParameters: number[];
  /** The shapes of each block's selected matrices. */
  readonly blockShapes: BlockShapes[];
  private readonly selected: string[];

  private constructor(
    private readonly o: EvaluatorOptions,
    private readonly dense: DenseReference,
  ) {
    const { blocks } = selectLayers(o.model.config, o.model.tensors, { include: o.include, exclude: o.exclude });
    this.blockShapes = blocks.map((ls) => ls.map((l) => ({ rows: o.model.tensors.get(l.name)!.shape[0], cols: o.model.tensors.get(l.name)!.shape[1] })));
    this.blockParameters = this.blockShapes.map((ms) => ms.reduce((t, m) => t + m.rows * m.cols, 0));
    this.selected = blocks.flat().map((l) => l.name);
  }

  /** Computes (or plans to recompute, beyond the budget) the dense logits of the windows. */
  static async create(o: EvaluatorOptions): Promise<AllocationEvaluator> {
    const fm = new ForwardModel(o.model, { backend: o.backend });
    return new AllocationEvaluator(o, await DenseReference.create(fm, windowsOf(o.windows), undefined, o.signal));
  }

  get windows(): CalibrationSet {
    return this.o.windows;
  }

  /** Every block with weights at `target` (0 for the others). */
  uniform(target: number): number[] {
    return this.blockParameters.map((p) => (p > 0 ? target : 0));
  }

  async evaluate(sparsity: readonly number[]): Promise<Evaluation> {
    const { model } = this.o;
    const tensors = new Map<string, Tensor>(model.tensors);
    for (const name of this.selected) {
      const t = model.tensors.get(name)!;
      tensors.set(name, { ...t, shape: t.shape.slice(), data: t.data.slice() });
    }
    const copy: LoadedModel = { ...model, tensors, close: () => {} };
    const result = await runPipeline(copy, {
      strategy: this.o.createStrategy(),
      blockSparsity: sparsity,
      calibration: this.o.windows,
      include: this.o.include,
      exclude: this.o.exclude,
      backend: this.o.backend,
      batch: this.o.batch,
      signal: this.o.signal,
    });
    const q = await queryQuality(new ForwardModel(copy, { backend: this.o.backend }), this.dense, windowsOf(this.o.windows), this.o.signal);
    return { kl: q.kl, top1Agreement: q.top1Agreement, positions: q.positions, layers: result.layers, pruned: result.layers.reduce((t, l) => t + l.pruned, 0) };
  }
}
