// `--stats once`: the calibration statistics of the dense model, gathered in one pass
// and reused by every cell (fast, approximate). The exact protocol recomputes them per
// cell from the partly pruned model (each block sees the outputs of the already
// pruned blocks); here every block sees the dense model's activations instead.
// Memory: every block's statistics are held at once (for SparseGPT, one cols x cols
// Hessian per layer input of every block).
import { CalibrationSet } from '../calibration/sample';
import { ShapeError } from '../errors';
import { BlockCaptures, ForwardModel } from '../forward/model';
import { ColumnStats, NMPattern } from '../kernels';
import { HessianAccumulator } from '../methods/hessian';
import { LoadedModel, Tensor } from '../model/types';
import { LinearInput, selectLayers } from '../prune/layers';
import { LayerResult } from '../prune/pipeline';
import { StatisticName, Strategy, StrategyStats } from '../strategies';
import { Matrix } from '../tensor';
import { secondsSince } from '../util/clock';

export interface DenseStats {
  /** Per block: the statistics of each layer input. */
  blocks: Map<LinearInput, StrategyStats>[];
  timings: { forward: number; statistics: number };
}

const since = secondsSince;

function asMatrix(t: Tensor): Matrix {
  if (t.shape.length !== 2) throw new ShapeError(`tensor ${t.name} is not a matrix (shape [${t.shape.join(', ')}])`);
  return { data: t.data, dtype: t.dtype, rows: t.shape[0], cols: t.shape[1] };
}

/** One pass of the dense model over the calibration set, recording what each block's linear layers receive. */
export async function gatherDenseStats(
  model: LoadedModel,
  cal: CalibrationSet,
  needs: ReadonlySet<StatisticName>,
  o: { batch?: number; signal?: AbortSignal } = {},
): Promise<DenseStats> {
  const timings = { forward: 0, statistics: 0 };
  const fm = new ForwardModel(model);
  const { blocks } = selectLayers(model.config, model.tensors);
  const L = cal.seqLen;
  const K = cal.samples;
  const H = model.config.hiddenSize;
  const batch = Math.max(1, Math.min(o.batch ?? Math.floor(4096 / L), K));
  let t = process.hrtime.bigint();
  const hidden = await fm.embed(cal.tokens, K, L);
  timings.forward += since(t);
  const out: Map<LinearInput, StrategyStats>[] = [];
  for (let b = 0; b < model.config.numLayers; b++) {
    const inputs = [...new Set(blocks[b].map((l) => l.input))];
    const stats = new Map<LinearInput, StrategyStats>();
    for (const input of inputs) {
      const width = model.tensors.get(blocks[b].find((l) => l.input === input)!.name)!.shape[1];
      const s: StrategyStats = {};
      if (needs.has('columnSumSq') || needs.has('columnSum')) s.columns = new ColumnStats(width);
      if (needs.has('hessian')) s.hessian = new HessianAccumulator(width);
      stats.set(input, s);
    }
    const caps: BlockCaptures = fm.allocCaptures(batch * L, inputs);
    for (let s = 0; s < K; s += batch) {
      o.signal?.throwIfAborted();
      const nb = Math.min(batch, K - s);
      const c: BlockCaptures = {};
      for (const k of inputs) c[k] = nb === batch ? caps[k] : caps[k]!.subarray(0, (caps[k]!.length / batch) * nb);
      // Dense weights: one run both records the inputs and yields the next block's.
      t = process.hrtime.bigint();
      await fm.runBlock(b, hidden.subarray(s * L * H, (s + nb) * L * H), { batch: nb, seq: L, capture: c });
      timings.forward += since(t);
      t = process.hrtime.bigint();
      for (const k of inputs) {
        const st = stats.get(k)!;
        if (st.columns) await st.columns.add(c[k]!, nb * L);
        if (st.hessian) await st.hessian.add(c[k]!, nb * L);
      }
      timings.statistics += since(t);
    }
    out.push(stats);
  }
  return { blocks: out, timings };
}

/** Prunes every linear layer of the blocks in place with the dense statistics. */
export async function pruneWithDenseStats(
  model: LoadedModel,
  strategy: Strategy,
  stats: DenseStats,
  selection: { sparsity?: number; pattern?: NMPattern },
  signal?: AbortSignal,
): Promise<LayerResult[]> {
  const { blocks } = selectLayers(model.config, model.tensors);
  const layers: LayerResult[] = [];
  const spec = { ...selection, granularity: strategy.defaultGranularity };
  for (let b = 0; b < blocks.length; b++)
    for (const l of blocks[b]) {
      signal?.throwIfAborted();
      const t = model.tensors.get(l.name)!;
      const mask = await strategy.prune(asMatrix(t), stats.blocks[b].get(l.input)!, spec);
      layers.push({ name: l.name, shape: t.shape.slice(), pruned: mask.pruned, sparsity: mask.pruned / (t.shape[0] * t.shape[1]) });
    }
  return layers;
}
