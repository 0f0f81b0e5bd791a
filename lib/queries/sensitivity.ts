// How much each block matters to the answers of the users' queries (issue 12, step 4):
// for each block b and each sparsity level s, the mean over the sequences' answer
// positions of KL(p_dense || p_b,s), where p_b,s is the model with only block b's linear
// layers pruned at level s by the given strategy (statistics of block b's dense inputs on
// the same sequences, the strategy's default comparison group unless told). An answer
// position is one that predicts a continuation token: rows answerStart-1 .. L-2 of a
// sequence of L tokens (as lib/eval/held-out.ts's `answer` measures). With `others`,
// the measured block is varied inside an operating point instead of the dense model:
// every other block pruned at that sparsity, masks chosen block by block on the pruned
// blocks' outputs with each block's own statistics gathered on it unpruned (the
// sequential pipeline's protocol). lib/queries/allocation.ts turns the curves into
// per-block sparsities.
//
// The dense model is never written: block b's pruned matrices are copies, seen through
// a second ForwardModel whose tensor map differs from the dense one only there, and
// dropped after each measurement (the dense weights are "restored" by construction).
// Memory: the hidden states entering the current block for every sequence, the dense
// model's final hidden states on the answer rows (with `others`: a pruned copy of every
// block's matrices), one block's copied matrices and its
// statistics, one sequence's working copy, and a tile of logits. Work per (b, s): blocks
// b.. of the pruned model plus the LM head of both, per sequence; KL and argmax are the
// native klTop1 that held-out.ts uses. Deterministic: single-sequence native calls and
// float64 sums in sequence and position order.
import { ArgumentRangeError } from '../errors';
import { klTop1 } from '../forward/compare';
import { ForwardModel } from '../forward/model';
import { Backend, Granularity } from '../kernels';
import { LOGITS_TILE_BYTES } from '../eval/held-out';
import { Tensor } from '../model/types';
import { LinearLayer, blockLinears } from '../prune/layers';
import { pruneBlock } from '../prune/pipeline';
import { BlockStats, createCollectors } from '../prune/statistics';
import type { Strategy } from '../strategies';
import { PhaseClock } from '../util/clock';
import { checkLevels } from './allocation';
import { QuerySequence } from './environment';

export interface SensitivityOptions {
  /** Scores and prunes each matrix (e.g. wanda(), magnitude(), sparsegpt()). */
  strategy: Strategy;
  /** Sparsities measured for every block, strictly increasing inside (0, 1). */
  levels: readonly number[];
  /** Comparison group of the unstructured selection (default: the strategy's). */
  granularity?: Granularity;
  /**
   * The operating point: every other block pruned at this sparsity (its masks chosen in
   * order on the inputs of the blocks before it pruned, as the sequential pipeline does)
   * instead of dense. Costs a pruned copy of every block's matrices.
   */
  others?: number;
  /** |x| above which an input activation counts as an outlier in the statistics (default 6). */
  activationThreshold?: number;
  /** Backend of the pruning kernels (the forward pass uses the model's own). */
  backend?: Backend;
  signal?: AbortSignal;
  /** Called after each (block, level) measurement. */
  onProgress?: (done: number, total: number) => void;
  tileBytes?: number;
}

export interface BlockSensitivity {
  block: number;
  /** Weights of the block's linear layers (what is pruned; 0: none, nothing measured). */
  parameters: number;
  /** Mean KL(dense || this block pruned at levels[i], the others dense or at `others`) over the answer positions, in nats. */
  kl: number[];
}

export interface SensitivityCurves {
  levels: number[];
  strategy: string;
  /** The other blocks' sparsity (0: dense). */
  others: number;
  /** Answer positions the means run over. */
  positions: number;
  blocks: BlockSensitivity[];
  seconds: number;
}

function checkInputs(fm: ForwardModel, sequences: readonly QuerySequence[], o: SensitivityOptions): void {
  const { levels, strategy } = o;
  checkLevels(levels);
  if (o.others !== undefined && !(typeof o.others === 'number' && o.others >= 0 && o.others < 1))
    throw new ArgumentRangeError(`others (the other blocks' sparsity) must be in [0, 1), got ${String(o.others)}`);
  if (strategy.collectWeights || strategy.needs.includes('gradient'))
    throw new ArgumentRangeError(`${strategy.name} scores from gradients (a gradient pass): not supported by the sensitivity measure; use a strategy that scores from activations or weights`);
  const ctx = fm.config.contextLength;
  sequences.forEach(({ ids, answerStart }, s) => {
    if (!(ids instanceof Int32Array) || ids.length > ctx)
      throw new ArgumentRangeError(`sequence ${s + 1} must be an Int32Array of at most ${ctx} tokens (the context length)`);
    if (!(Number.isInteger(answerStart) && answerStart >= 1 && answerStart <= ids.length))
      throw new ArgumentRangeError(`sequence ${s + 1}: answerStart ${answerStart} is not in [1, ${ids.length}]`);
  });
  if (!sequences.some((q) => q.ids.length > q.answerStart))
    throw new ArgumentRangeError('no sequence has an answer position (a continuation token to predict): build the environment with generateTokens > 0');
}

/** The per-column and strategy statistics of block b's layers on its dense inputs. */
async function blockStatistics(fm: ForwardModel, b: number, layers: LinearLayer[], states: Float32Array[], sequences: readonly QuerySequence[], o: SensitivityOptions): Promise<BlockStats> {
  const stats = createCollectors(fm, layers, { methods: [o.strategy], activationThreshold: o.activationThreshold, backend: o.backend });
  const inputs = [...stats.keys()];
  const maxLen = Math.max(...sequences.map((q) => q.ids.length));
  const caps = fm.allocCaptures(maxLen, inputs, b);
  for (let s = 0; s < sequences.length; s++) {
    o.signal?.throwIfAborted();
    const L = sequences[s].ids.length;
    const c = Object.fromEntries(inputs.map((k) => [k, caps[k]!.subarray(0, (caps[k]!.length / maxLen) * L)]));
    await fm.runBlock(b, states[s].slice(), { batch: 1, seq: L, capture: c });
    for (const k of inputs) for (const col of Object.values(stats.get(k)!)) await col?.add(c[k]!, L, { backend: o.backend });
  }
  return stats;
}

/** Prunes copies of the dense `layers` at `level` into `tensors` (the dense map untouched). */
async function pruneCopies(fm: ForwardModel, tensors: Map<string, Tensor>, layers: LinearLayer[], stats: BlockStats, level: number, o: SensitivityOptions): Promise<void> {
  for (const l of layers) {
    const t = fm.tensor(l.name);
    tensors.set(l.name, { ...t, shape: t.shape.slice(), data: t.data.slice() });
  }
  const selection = { sparsity: level, granularity: o.granularity ?? o.strategy.defaultGranularity, backend: o.backend };
  await pruneBlock(tensors, layers, stats, { strategy: o.strategy, selection, global: false, clock: new PhaseClock(), signal: o.signal });
}

/** `base` with block b's layers re-pruned at `level` from the dense weights. */
async function prunedCopy(fm: ForwardModel, base: ForwardModel, layers: LinearLayer[], stats: BlockStats, level: number, o: SensitivityOptions): Promise<ForwardModel> {
  const tensors = new Map<string, Tensor>(base.tensors);
  await pruneCopies(fm, tensors, layers, stats, level, o);
  return new ForwardModel({ config: fm.config, tensors }, { backend: fm.backend });
}

/** `base` with `layers` back to their dense weights. */
function withDense(fm: ForwardModel, base: ForwardModel, layers: LinearLayer[]): ForwardModel {
  if (base === fm) return fm;
  const tensors = new Map<string, Tensor>(base.tensors);
  for (const l of layers) tensors.set(l.name, fm.tensor(l.name));
  return new ForwardModel({ config: fm.config, tensors }, { backend: fm.backend });
}

/** The operating point: every block pruned at o.others, block by block on the pruned blocks' outputs. */
async function operatingPoint(fm: ForwardModel, sequences: readonly QuerySequence[], o: SensitivityOptions): Promise<ForwardModel> {
  const base = new ForwardModel({ config: fm.config, tensors: new Map(fm.tensors) }, { backend: fm.backend });
  const states: Float32Array[] = [];
  for (const { ids } of sequences) states.push(await fm.embed(ids, 1, ids.length));
  for (let b = 0; b < fm.numLayers; b++) {
    const layers = blockLinears(fm.config, fm.tensors, b);
    if (layers.length > 0) await pruneCopies(fm, base.tensors, layers, await blockStatistics(base, b, layers, states, sequences, o), o.others!, o);
    if (b + 1 < fm.numLayers) await advance(base, b, states, sequences, o);
  }
  return base;
}

/** Runs block b of `model` over every sequence's states in place. */
async function advance(model: ForwardModel, b: number, states: Float32Array[], sequences: readonly QuerySequence[], o: SensitivityOptions): Promise<void> {
  for (let s = 0; s < sequences.length; s++) {
    o.signal?.throwIfAborted();
    await model.runBlock(b, states[s], { batch: 1, seq: sequences[s].ids.length });
  }
}

/** Sum over the answer positions of KL(dense || pruned) when `pruned` differs from block b on. */
async function klSum(fm: ForwardModel, pruned: ForwardModel, b: number, states: Float32Array[], denseFinal: Float32Array[], sequences: readonly QuerySequence[], o: SensitivityOptions): Promise<number> {
  const H = fm.config.hiddenSize, V = fm.config.vocabSize;
  const tileRows = Math.max(1, Math.floor((o.tileBytes ?? LOGITS_TILE_BYTES) / (V * 8)));
  let sum = 0;
  for (let s = 0; s < sequences.length; s++) {
    o.signal?.throwIfAborted();
    const { ids, answerStart } = sequences[s];
    const L = ids.length, first = answerStart - 1, rows = L - answerStart;
    if (rows <= 0) continue;
    const h = states[s].slice();
    for (let j = b; j < fm.numLayers; j++) await pruned.runBlock(j, h, { batch: 1, seq: L });
    for (let r0 = 0; r0 < rows; r0 += tileRows) {
      const nr = Math.min(tileRows, rows - r0);
      const ld = await fm.logits(denseFinal[s].subarray(r0 * H, (r0 + nr) * H), nr);
      const lp = await pruned.logits(h.subarray((first + r0) * H, (first + r0 + nr) * H), nr);
      const c = await klTop1(ld, lp, V, { backend: fm.backend });
      for (const v of c.kl) sum += v;
    }
  }
  return sum;
}

/**
 * Measures every block's sensitivity curve on the query sequences (see the head of
 * this file). Rejects with an AbortError when `signal` aborts, the dense model intact.
 */
export async function measureSensitivity(fm: ForwardModel, sequences: readonly QuerySequence[], o: SensitivityOptions): Promise<SensitivityCurves> {
  const start = process.hrtime.bigint();
  checkInputs(fm, sequences, o);
  const H = fm.config.hiddenSize;
  const positions = sequences.reduce((t, q) => t + Math.max(0, q.ids.length - q.answerStart), 0);
  // The dense model's final hidden states on the answer rows, and every sequence's
  // hidden states entering block 0 (advanced block by block below).
  const denseFinal: Float32Array[] = [];
  const states: Float32Array[] = [];
  for (const { ids, answerStart } of sequences) {
    o.signal?.throwIfAborted();
    const L = ids.length;
    denseFinal.push((await fm.forward(ids, 1, L)).slice((answerStart - 1) * H, (L - 1) * H));
    states.push(await fm.embed(ids, 1, L));
  }
  // The model the measured block is varied in: dense, or every block at o.others.
  const base = o.others ? await operatingPoint(fm, sequences, o) : fm;
  const blocks: BlockSensitivity[] = [];
  const total = fm.numLayers * o.levels.length;
  for (let b = 0; b < fm.numLayers; b++) {
    const layers = blockLinears(fm.config, fm.tensors, b);
    const parameters = layers.reduce((t, l) => t + fm.tensor(l.name).shape[0] * fm.tensor(l.name).shape[1], 0);
    const kl: number[] = [];
    // Statistics as the sequential pipeline gathers them: block b itself dense, its inputs from the base model.
    const stats = layers.length > 0 ? await blockStatistics(withDense(fm, base, layers), b, layers, states, sequences, o) : null;
    for (const level of o.levels) {
      if (stats) kl.push((await klSum(fm, await prunedCopy(fm, base, layers, stats, level, o), b, states, denseFinal, sequences, o)) / positions);
      else kl.push(0);
      o.onProgress?.(b * o.levels.length + kl.length, total);
    }
    blocks.push({ block: b, parameters, kl });
    // The next block's inputs: this block's outputs in the base model.
    if (b + 1 < fm.numLayers) await advance(base, b, states, sequences, o);
  }
  return { levels: [...o.levels], strategy: o.strategy.name, others: o.others ?? 0, positions, blocks, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
