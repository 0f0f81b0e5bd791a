// The sequential layer-wise pruning pipeline of the Wanda and SparseGPT reference code
// (shared protocols): the calibration hidden states enter block 0 from the embedding;
// for each block, run the unpruned block over every calibration sequence recording what
// each linear layer receives, turn that into the statistics the method needs, prune
// all of the block's linear layers, then run the block again with the pruned weights:
// its outputs are the next block's inputs. Only one block's statistics and the
// calibration hidden states are held at once (weights stay memory-mapped).
//
// Magnitude needs no activations: it prunes every selected matrix directly.
import { ArgumentRangeError, ShapeError } from '../errors';
import { BlockCaptures, ForwardModel } from '../forward/model';
import { applyMask, ColumnStats, computeScores, NMPattern, selectGlobal } from '../kernels';
import { HessianAccumulator, HessianPrecision } from '../methods/hessian';
import { LoadedModel, Tensor } from '../model/types';
import { Strategy, StrategyStats } from '../strategies';
import { Mask, Matrix } from '../tensor';
import { CalibrationSet } from '../calibration/sample';
import { LinearInput, LinearLayer, selectLayers } from './layers';
import { PhaseClock } from '../util/clock';

export type PruneGranularity = 'row' | 'matrix' | 'global';

export interface PipelineProgress {
  block: number;
  blocks: number;
  phase: 'statistics' | 'pruning' | 'forward' | 'done';
  layer?: string;
  elapsedSeconds: number;
}

export interface PipelineOptions {
  strategy: Strategy;
  sparsity?: number;
  pattern?: NMPattern;
  granularity?: PruneGranularity;
  include?: string[];
  exclude?: string[];
  calibration?: CalibrationSet;
  /** Sequences per forward call (default: as many as fit in about 4096 tokens, at least 1). */
  batch?: number;
  hessianPrecision?: HessianPrecision;
  signal?: AbortSignal;
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Called with the names of a block's pruned tensors once nothing in the run needs
   * them any more (prune() moves them out of private memory: lib/prune/offload.ts).
   */
  onTensorsDone?: (names: string[]) => void;
  /** |x| above which an input activation counts as an outlier in the statistics (default 6, as LLM.int8()). */
  activationThreshold?: number;
}

export const DEFAULT_ACTIVATION_THRESHOLD = 6;

export interface LayerResult {
  name: string;
  shape: number[];
  pruned: number;
  sparsity: number;
  /** Calibration tokens whose activations reached this layer (calibrated methods). */
  tokens?: number;
  /** Input columns whose |activation| exceeded the outlier threshold at least once. */
  outlierColumns?: number;
}

export interface PipelineResult {
  layers: LayerResult[];
  /** Seconds per phase: statistics, pruning, forward (embedding and recomputing blocks). */
  timings: Record<string, number>;
  granularity: PruneGranularity;
  /** What "global" meant for this run (whole model for magnitude, per block otherwise). */
  notes: string[];
}

function asMatrix(t: Tensor): Matrix {
  if (t.shape.length !== 2) throw new ShapeError(`tensor ${t.name} is not a matrix (shape [${t.shape.join(', ')}])`);
  return { data: t.data, dtype: t.dtype, rows: t.shape[0], cols: t.shape[1] };
}

function withStats(r: LayerResult, s: StrategyStats): LayerResult {
  if (!s.columns) return r;
  return { ...r, tokens: s.columns.count, outlierColumns: s.columns.outlierColumns() };
}

function result(name: string, t: Tensor, mask: Mask): LayerResult {
  const n = t.shape[0] * t.shape[1];
  return { name, shape: t.shape.slice(), pruned: mask.pruned, sparsity: mask.pruned / n };
}

/** Prunes `model` in place (its tensors are copy-on-write views or owned buffers). */
export async function runPipeline(model: LoadedModel, o: PipelineOptions): Promise<PipelineResult> {
  const granularity: PruneGranularity = o.granularity ?? (o.strategy.defaultGranularity as PruneGranularity);
  if (o.pattern && granularity === 'global') throw new ArgumentRangeError('an N:M pattern is per row: it cannot be combined with global granularity');
  if (granularity === 'global' && o.strategy.name === 'sparsegpt')
    throw new ArgumentRangeError('sparsegpt reconstructs each layer on its own: global granularity does not apply (use row or matrix)');
  const selection = { sparsity: o.sparsity, pattern: o.pattern, granularity: granularity === 'global' ? undefined : granularity };
  const { blocks, extra } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  const clock = new PhaseClock();
  const layers: LayerResult[] = [];
  const notes: string[] = [];
  const progress = (block: number, phase: PipelineProgress['phase'], layer?: string) =>
    o.onProgress?.({ block, blocks: model.config.numLayers, phase, layer, elapsedSeconds: clock.elapsed() });
  const tensor = (name: string) => model.tensors.get(name)!;

  // Methods without activation statistics: no forward pass at all.
  if (o.strategy.needs.length === 0) {
    const names = [...blocks.flat().map((l) => l.name), ...extra];
    if (granularity === 'global') {
      notes.push('global: one threshold across every selected matrix of the model');
      await clock.time('pruning', async () => {
        const mats = names.map((n) => asMatrix(tensor(n)));
        const scores: Float32Array[] = [];
        for (const m of mats) {
          o.signal?.throwIfAborted();
          scores.push(await computeScores(m, o.strategy.scoreOptions({})));
        }
        const masks = await selectGlobal(mats.map((m, i) => ({ scores: scores[i], rows: m.rows, cols: m.cols })), o.sparsity ?? 0);
        for (let i = 0; i < mats.length; i++) {
          await applyMask(mats[i], masks[i]);
          layers.push(result(names[i], tensor(names[i]), masks[i]));
          o.onTensorsDone?.([names[i]]);
        }
      });
    } else {
      let b = 0;
      for (const name of names) {
        o.signal?.throwIfAborted();
        // Matrices outside the blocks (an included embedding or LM head) come last: they
        // keep the last block's number, so progress never goes backwards.
        b = Number(/^blocks\.(\d+)\./.exec(name)?.[1] ?? b);
        progress(b, 'pruning', name);
        const mask = await clock.time('pruning', () => o.strategy.prune(asMatrix(tensor(name)), {}, selection));
        layers.push(result(name, tensor(name), mask));
        o.onTensorsDone?.([name]);
      }
    }
    progress(model.config.numLayers, 'done');
    return { layers, timings: clock.timings, granularity, notes };
  }

  const cal = o.calibration;
  if (!cal) throw new ArgumentRangeError(`method ${o.strategy.name} needs calibration data`);
  if (extra.length > 0)
    throw new ArgumentRangeError(
      `method ${o.strategy.name} prunes linear layers inside blocks only; --include named ${extra.join(', ')}`,
    );
  if (granularity === 'global') notes.push('global: one threshold across the selected matrices of each block (the pipeline is sequential)');
  const fm = new ForwardModel(model);
  const L = cal.seqLen;
  const K = cal.samples;
  const H = model.config.hiddenSize;
  // Several sequences per native call amortize the per-call cost on small models; the
  // working memory of a call grows with its tokens, so the default stays near 4096.
  const batch = Math.max(1, Math.min(o.batch ?? Math.floor(4096 / L), K));
  const inps = await clock.time('forward', () => fm.embed(cal.tokens, K, L));

  // Blocks after the last one with selected layers need no statistics: stop there.
  const end = blocks.reduce((last, ls, i) => (ls.length > 0 ? i + 1 : last), 0);
  for (let b = 0; b < end; b++) {
    const blockLayers: LinearLayer[] = blocks[b];
    if (blockLayers.length > 0) {
      // 1. statistics from the unpruned block
      const needed = [...new Set(blockLayers.map((l) => l.input))] as LinearInput[];
      const stats = new Map<LinearInput, StrategyStats>();
      for (const input of needed) {
        const width = tensor(blockLayers.find((l) => l.input === input)!.name).shape[1];
        const s: StrategyStats = {};
        // Every calibrated run gathers the per-column statistics (sum, sum of squares,
        // tokens, |x| > threshold counts): cheap, and what activation-aware methods read.
        s.columns = new ColumnStats(width, { threshold: o.activationThreshold ?? DEFAULT_ACTIVATION_THRESHOLD });
        if (o.strategy.needs.includes('hessian')) s.hessian = new HessianAccumulator(width, { precision: o.hessianPrecision });
        stats.set(input, s);
      }
      progress(b, 'statistics');
      const scratch = new Float32Array(batch * L * H);
      const caps: BlockCaptures = fm.allocCaptures(batch * L, needed);
      for (let s = 0; s < K; s += batch) {
        o.signal?.throwIfAborted();
        const nb = Math.min(batch, K - s);
        const rows = nb * L;
        const hidden = nb === batch ? scratch : scratch.subarray(0, rows * H);
        hidden.set(inps.subarray(s * L * H, (s + nb) * L * H));
        const c: BlockCaptures = {};
        for (const k of needed) c[k] = nb === batch ? caps[k] : caps[k]!.subarray(0, (caps[k]!.length / batch) * nb);
        await clock.time('forward', () => fm.runBlock(b, hidden, { batch: nb, seq: L, capture: c }));
        await clock.time('statistics', async () => {
          for (const k of needed) {
            const st = stats.get(k)!;
            if (st.columns) await st.columns.add(c[k]!, rows);
            if (st.hessian) await st.hessian.add(c[k]!, rows);
          }
        });
      }
      // 2. prune every selected linear layer of the block
      if (granularity === 'global') {
        await clock.time('pruning', async () => {
          const mats = blockLayers.map((l) => asMatrix(tensor(l.name)));
          const scores: Float32Array[] = [];
          for (let i = 0; i < mats.length; i++)
            scores.push(await computeScores(mats[i], o.strategy.scoreOptions(stats.get(blockLayers[i].input)!)));
          const masks = await selectGlobal(mats.map((m, i) => ({ scores: scores[i], rows: m.rows, cols: m.cols })), o.sparsity ?? 0);
          for (let i = 0; i < mats.length; i++) {
            await applyMask(mats[i], masks[i]);
            layers.push(withStats(result(blockLayers[i].name, tensor(blockLayers[i].name), masks[i]), stats.get(blockLayers[i].input)!));
          }
        });
      } else {
        for (const l of blockLayers) {
          o.signal?.throwIfAborted();
          progress(b, 'pruning', l.name);
          const mask = await clock.time('pruning', () => o.strategy.prune(asMatrix(tensor(l.name)), stats.get(l.input)!, selection));
          layers.push(withStats(result(l.name, tensor(l.name), mask), stats.get(l.input)!));
        }
      }
    }
    // 3. the pruned block's outputs are the next block's inputs
    if (b + 1 < end) {
      progress(b, 'forward');
      for (let s = 0; s < K; s += batch) {
        o.signal?.throwIfAborted();
        const nb = Math.min(batch, K - s);
        await clock.time('forward', () => fm.runBlock(b, inps.subarray(s * L * H, (s + nb) * L * H), { batch: nb, seq: L }));
      }
    }
    if (blockLayers.length > 0) o.onTensorsDone?.(blockLayers.map((l) => l.name));
  }
  progress(model.config.numLayers, 'done');
  return { layers, timings: clock.timings, granularity, notes };
}
