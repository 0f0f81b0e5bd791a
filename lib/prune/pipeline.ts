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
import { ForwardModel } from '../forward/model';
import { applyMask, Backend, computeScores, NMPattern, SelectionSpec, selectGlobal, selectMask } from '../kernels';
import { HessianPrecision } from '../methods/hessian';
import { LoadedModel, Tensor } from '../model/types';
import { LayerContext, Strategy, StrategyStats } from '../strategies';
import { Mask, Matrix } from '../tensor';
import { CalibrationSet } from '../calibration/sample';
import { LinearLayer, selectLayers } from './layers';
import { blockLabel } from './progress';
import { gradientPass } from './gradient-pass';
import { BlockHidden, BlockStats, calibrationPass } from './statistics';
import { PhaseClock } from '../util/clock';
import type { Scratch } from '../util/scratch';

export type PruneGranularity = 'row' | 'matrix' | 'global';

export interface PipelineProgress {
  /** The block being worked on, 1-based (1..blocks); 'done' reports the last block. */
  block: number;
  blocks: number;
  phase: 'gradients' | 'statistics' | 'pruning' | 'forward' | 'done';
  /** The matrix being pruned (phase 'pruning'; canonical name, block index from 0). */
  layer?: string;
  /** "block 3/8 pruning blocks.2.mlp.up": what the CLI prints. */
  label: string;
  elapsedSeconds: number;
}

export interface PipelineOptions {
  strategy: Strategy;
  sparsity?: number;
  /** Per-block sparsity (unstructured, row or matrix granularity) instead of `sparsity` for every block (--allocation sensitivity). */
  blockSparsity?: readonly number[];
  pattern?: NMPattern;
  granularity?: PruneGranularity;
  include?: string[];
  exclude?: string[];
  calibration?: CalibrationSet;
  /** Sequences per forward call (default: as many as fit in about 4096 tokens, at least 1). */
  batch?: number;
  hessianPrecision?: HessianPrecision;
  /** Backend of every native call (default 'auto'); prune() passes the device lib/backend.ts resolved. */
  backend?: Backend;
  signal?: AbortSignal;
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Called with the names of a block's pruned tensors once nothing in the run needs
   * them any more (prune() moves them out of private memory: lib/prune/offload.ts).
   */
  onTensorsDone?: (names: string[]) => void;
  /** |x| above which an input activation counts as an outlier in the statistics (default 6, as LLM.int8()). */
  activationThreshold?: number;
  /** The run's scratch folder: gradient methods keep their per-weight moments in file-backed pages there past 256 MiB. */
  scratch?: Scratch;
  /** Bytes of gradient moments kept in memory before they move to the scratch folder (default 256 MiB; 0: always there). */
  gradientBudgetBytes?: number;
}

export { DEFAULT_ACTIVATION_THRESHOLD } from './statistics';

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

/** The block of a canonical tensor name (blocks.3.mlp.up.weight: 3), or -1 outside the blocks. */
export const blockOf = (name: string): number => Number(/^blocks\.(\d+)\./.exec(name)?.[1] ?? -1);

export function asMatrix(t: Tensor): Matrix {
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

/** One matrix's scores for a global selection: the strategy's own (scoreMatrix) or the kernels' |W|^p * act^q. */
function scoresOf(strategy: Strategy, w: Matrix, stats: StrategyStats, layer: LayerContext, backend?: Backend): Promise<Float32Array> {
  return strategy.scoreMatrix ? strategy.scoreMatrix(w, stats, layer) : computeScores(w, { ...strategy.scoreOptions(stats), backend });
}

/** How one block's selected layers are pruned (shared with `sweep --stats once`). */
export interface BlockPruning {
  strategy: Strategy;
  /** Sparsity, pattern, per-row / per-matrix granularity and backend, as the kernels take them. */
  selection: SelectionSpec;
  /** One threshold across the block's matrices instead of per row or per matrix. */
  global: boolean;
  clock: PhaseClock;
  signal?: AbortSignal;
  onLayer?: (name: string) => void;
}

/**
 * Prunes the layers of one block in place with their statistics: those of each layer's
 * input, and the layer's own (`weightStats`, by name: the gradient methods' collectors).
 */
export async function pruneBlock(
  tensors: Map<string, Tensor>,
  layers: LinearLayer[],
  inputStats: BlockStats,
  p: BlockPruning,
  weightStats?: Map<string, StrategyStats>,
): Promise<LayerResult[]> {
  const tensor = (name: string) => tensors.get(name)!;
  const stats = new Map(layers.map((l) => [l, { ...inputStats.get(l.input), ...weightStats?.get(l.name) } as StrategyStats]));
  const out: LayerResult[] = [];
  const backend = p.selection.backend;
  if (p.global) {
    await p.clock.time('pruning', async () => {
      const mats = layers.map((l) => asMatrix(tensor(l.name)));
      const scores: Float32Array[] = [];
      for (let i = 0; i < mats.length; i++)
        scores.push(await scoresOf(p.strategy, mats[i], stats.get(layers[i])!, { name: layers[i].name, block: blockOf(layers[i].name), tensors }, backend));
      const masks = await selectGlobal(mats.map((m, i) => ({ scores: scores[i], rows: m.rows, cols: m.cols })), p.selection.sparsity ?? 0, { backend });
      for (let i = 0; i < mats.length; i++) {
        await applyMask(mats[i], masks[i], { backend });
        out.push(withStats(result(layers[i].name, tensor(layers[i].name), masks[i]), stats.get(layers[i])!));
      }
    });
    return out;
  }
  for (const l of layers) {
    p.signal?.throwIfAborted();
    p.onLayer?.(l.name);
    const layer = { name: l.name, block: blockOf(l.name), tensors };
    const mask = await p.clock.time('pruning', () => p.strategy.prune(asMatrix(tensor(l.name)), stats.get(l)!, p.selection, layer));
    out.push(withStats(result(l.name, tensor(l.name), mask), stats.get(l)!));
  }
  return out;
}

/**
 * Prunes the layers of one block with a strategy that learns the block as a whole
 * (Strategy.scoreBlock): it gets the block's calibration inputs and the dense block's
 * outputs and returns a score per weight; the masks come from the usual selection.
 */
export async function pruneLearnedBlock(
  fm: ForwardModel,
  block: number,
  layers: LinearLayer[],
  inputStats: BlockStats,
  hidden: BlockHidden,
  p: BlockPruning,
): Promise<LayerResult[]> {
  const tensor = (name: string) => fm.tensor(name);
  const backend = p.selection.backend;
  p.onLayer?.(`blocks.${block} (learning the block)`);
  const scores = await p.clock.time('pruning', () =>
    p.strategy.scoreBlock!({
      block, layers: layers.map((l) => l.name), tensors: fm.tensors, spec: fm.blockSpec(block),
      inputs: hidden.inputs, targets: hidden.denseOutputs, sequences: hidden.sequences, seq: hidden.seq, signal: p.signal, backend,
    }),
  );
  const mats = layers.map((l) => asMatrix(tensor(l.name)));
  const scoreOf = (i: number) => {
    const sc = scores.get(layers[i].name);
    if (!sc || sc.length !== mats[i].rows * mats[i].cols) throw new ShapeError(`${p.strategy.name} gave no score of ${mats[i].rows * mats[i].cols} values for ${layers[i].name}`);
    return sc;
  };
  const masks = p.global
    ? await selectGlobal(mats.map((m, i) => ({ scores: scoreOf(i), rows: m.rows, cols: m.cols })), p.selection.sparsity ?? 0, { backend })
    : [];
  const out: LayerResult[] = [];
  for (let i = 0; i < mats.length; i++) {
    p.signal?.throwIfAborted();
    p.onLayer?.(layers[i].name);
    const mask = masks[i] ?? (await selectMask(scoreOf(i), mats[i].rows, mats[i].cols, { granularity: 'row', ...p.selection }));
    await p.clock.time('pruning', () => applyMask(mats[i], mask, { backend }));
    out.push(withStats(result(layers[i].name, tensor(layers[i].name), mask), inputStats.get(layers[i].input) ?? {}));
  }
  return out;
}

/** Prunes `model` in place (its tensors are copy-on-write views or owned buffers). */
export async function runPipeline(model: LoadedModel, o: PipelineOptions): Promise<PipelineResult> {
  const granularity: PruneGranularity = o.granularity ?? (o.strategy.defaultGranularity as PruneGranularity);
  if (o.pattern && granularity === 'global') throw new ArgumentRangeError('an N:M pattern is per row: it cannot be combined with global granularity');
  if (o.blockSparsity && (o.pattern || granularity === 'global' || o.blockSparsity.length !== model.config.numLayers))
    throw new ArgumentRangeError(`per-block sparsities need one value per block (${model.config.numLayers}), no N:M pattern and no global granularity`);
  if (granularity === 'global' && !o.strategy.allowsGlobal)
    throw new ArgumentRangeError(`${o.strategy.name} reconstructs each layer on its own: global granularity does not apply (use row or matrix)`);
  const backend = o.backend;
  const selection: SelectionSpec = { sparsity: o.sparsity, pattern: o.pattern, granularity: granularity === 'global' ? undefined : granularity, backend };
  const { blocks, extra } = selectLayers(model.config, model.tensors, { include: o.include, exclude: o.exclude });
  const clock = new PhaseClock();
  const layers: LayerResult[] = [];
  const notes: string[] = [];
  const blocksTotal = model.config.numLayers;
  // Counted from 0 here (as tensor names are), reported from 1; 'done' passes blocksTotal.
  const progress = (block0: number, phase: PipelineProgress['phase'], layer?: string) => {
    const block = Math.min(block0 + 1, blocksTotal);
    o.onProgress?.({ block, blocks: blocksTotal, phase, layer, label: blockLabel(block, blocksTotal, phase, layer), elapsedSeconds: clock.elapsed() });
  };
  const tensor = (name: string) => model.tensors.get(name)!;

  // Methods without activation statistics: no forward pass at all.
  if (o.strategy.needs.length === 0) {
    const names = [...blocks.flat().map((l) => l.name), ...extra];
    if (granularity === 'global') {
      notes.push('global: one threshold across every selected matrix of the model');
      await clock.time('pruning', async () => {
        const mats = names.map((n) => asMatrix(tensor(n)));
        const scores: Float32Array[] = [];
        for (let i = 0; i < mats.length; i++) {
          o.signal?.throwIfAborted();
          scores.push(await scoresOf(o.strategy, mats[i], {}, { name: names[i], block: blockOf(names[i]), tensors: model.tensors }, backend));
        }
        const masks = await selectGlobal(mats.map((m, i) => ({ scores: scores[i], rows: m.rows, cols: m.cols })), o.sparsity ?? 0, { backend });
        for (let i = 0; i < mats.length; i++) {
          await applyMask(mats[i], masks[i], { backend });
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
        const inBlock = blockOf(name) >= 0;
        const blockSelection = o.blockSparsity && inBlock ? { ...selection, sparsity: o.blockSparsity[b] } : selection;
        const layer = { name, block: blockOf(name), tensors: model.tensors };
        const mask = await clock.time('pruning', () => o.strategy.prune(asMatrix(tensor(name)), {}, blockSelection, layer));
        layers.push(result(name, tensor(name), mask));
        o.onTensorsDone?.([name]);
      }
    }
    progress(model.config.numLayers, 'done');
    notes.push(...(o.strategy.notes?.() ?? []));
    return { layers, timings: clock.timings, granularity, notes };
  }

  const cal = o.calibration;
  if (!cal) throw new ArgumentRangeError(`method ${o.strategy.name} needs calibration data`);
  if (extra.length > 0)
    throw new ArgumentRangeError(
      `method ${o.strategy.name} prunes linear layers inside blocks only; --include named ${extra.join(', ')}`,
    );
  if (granularity === 'global') notes.push('global: one threshold across the selected matrices of each block (the pipeline is sequential)');
  const fm = new ForwardModel(model, { backend });
  const pruning: BlockPruning = { strategy: o.strategy, selection, global: granularity === 'global', clock, signal: o.signal };
  // Gradient methods: one backward pass per sequence on the dense model first (one-shot),
  // then every block is pruned with the dense model's statistics (recompute off).
  let weightStats: Map<string, StrategyStats> | undefined;
  let gradients: { release(): void } | undefined;
  if (o.strategy.collectWeights) {
    notes.push('gradients of the dense model, all layers in one pass (one-shot); activation statistics of the dense model');
    weightStats = new Map();
    for (const l of blocks.flat()) {
      const [rows, cols] = tensor(l.name).shape;
      weightStats.set(l.name, o.strategy.collectWeights(rows, cols, l.name));
    }
    gradients = await gradientPass(model, cal, weightStats, {
      clock,
      signal: o.signal,
      scratch: o.scratch,
      budgetBytes: o.gradientBudgetBytes,
      onSequence: (done, total) =>
        o.onProgress?.({ block: 0, blocks: blocksTotal, phase: 'gradients', label: `sequence ${done}/${total} gradients`, elapsedSeconds: clock.elapsed() }),
    });
  }
  // A strategy that learns whole blocks needs the dense block's outputs, not its own per-input collectors.
  const learnsBlocks = o.strategy.scoreBlock !== undefined;
  if (learnsBlocks) notes.push(`${o.strategy.name}: each block learned as a whole to reconstruct the dense block's outputs on its calibration inputs`);
  try {
    await calibrationPass(fm, cal, blocks, {
      methods: learnsBlocks ? [] : [o.strategy],
      denseOutputs: learnsBlocks,
      activationThreshold: o.activationThreshold,
      hessianPrecision: o.hessianPrecision,
      backend,
      batch: o.batch,
      signal: o.signal,
      clock,
      recompute: !weightStats,
      onPhase: (b, phase) => progress(b, phase),
      onStatistics: async (b, blockLayers, stats, hidden) => {
        const selection = o.blockSparsity ? { ...pruning.selection, sparsity: o.blockSparsity[b] } : pruning.selection;
        const p = { ...pruning, selection, onLayer: (name: string) => progress(b, 'pruning', name) };
        if (hidden) layers.push(...(await pruneLearnedBlock(fm, b, blockLayers, stats, hidden, p)));
        else layers.push(...(await pruneBlock(model.tensors, blockLayers, stats, p, weightStats)));
      },
      onBlockDone: (_b, blockLayers) => o.onTensorsDone?.(blockLayers.map((l) => l.name)),
    });
  } finally {
    gradients?.release(); // the moments' scratch pages, once every block is pruned
  }
  progress(model.config.numLayers, 'done');
  notes.push(...(o.strategy.notes?.() ?? []));
  return { layers, timings: clock.timings, granularity, notes };
}
