// How much each block matters to the answers of the users' queries (issue 12, step 4):
// for each block b and each sparsity level s, the mean over the sequences' answer
// positions of KL(p_dense || p_b,s), where p_b,s is the model with only block b's linear
// layers pruned at level s by the given strategy (statistics of block b's dense inputs on
// the same sequences, the strategy's default comparison group unless told). An answer
// position is one that predicts a continuation token: rows answerStart-1 .. L-2 of a
// sequence of L tokens (as lib/eval/held-out.ts's `answer` measures). lib/queries/
// allocation.ts turns the curves into per-block sparsities.
//
// The dense model is never written: block b's pruned matrices are copies, seen through
// a second ForwardModel whose tensor map differs from the dense one only there, and
// dropped after each measurement (the dense weights are "restored" by construction).
// Memory: the hidden states entering the current block for every sequence, the dense
// model's final hidden states on the answer rows, one block's copied matrices and its
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
  /** Mean KL(dense || only this block pruned at levels[i]) over the answer positions, in nats. */
  kl: number[];
}

export interface SensitivityCurves {
  levels: number[];
  strategy: string;
  /** Answer positions the means run over. */
  positions: number;
  blocks: BlockSensitivity[];
  seconds: number;
}

function checkInputs(fm: ForwardModel, sequences: readonly QuerySequence[], o: SensitivityOptions): void {
  const { levels, strategy } = o;
  checkLevels(levels);
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

/** The model with block b's layers replaced by pruned copies (the dense map untouched). */
async function prunedCopy(fm: ForwardModel, layers: LinearLayer[], stats: BlockStats, level: number, o: SensitivityOptions): Promise<ForwardModel> {
  const tensors = new Map<string, Tensor>(fm.tensors);
  for (const l of layers) {
    const t = fm.tensor(l.name);
    tensors.set(l.name, { ...t, shape: t.shape.slice(), data: t.data.slice() });
  }
  const selection = { sparsity: level, granularity: o.granularity ?? o.strategy.defaultGranularity, backend: o.backend };
  await pruneBlock(tensors, layers, stats, { strategy: o.strategy, selection, global: false, clock: new PhaseClock(), signal: o.signal });
  return new ForwardModel({ config: fm.config, tensors }, { backend: fm.backend });
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
  const blocks: BlockSensitivity[] = [];
  const total = fm.numLayers * o.levels.length;
  for (let b = 0; b < fm.numLayers; b++) {
    const layers = blockLinears(fm.config, fm.tensors, b);
    const parameters = layers.reduce((t, l) => t + fm.tensor(l.name).shape[0] * fm.tensor(l.name).shape[1], 0);
    const kl: number[] = [];
    const stats = layers.length > 0 ? await blockStatistics(fm, b, layers, states, sequences, o) : null;
    for (const level of o.levels) {
      if (stats) kl.push((await klSum(fm, await prunedCopy(fm, layers, stats, level, o), b, states, denseFinal, sequences, o)) / positions);
      else kl.push(0);
      o.onProgress?.(b * o.levels.length + kl.length, total);
    }
    blocks.push({ block: b, parameters, kl });
    // The next block's inputs: this block's dense outputs.
    if (b + 1 < fm.numLayers)
      for (let s = 0; s < sequences.length; s++) {
        o.signal?.throwIfAborted();
        await fm.runBlock(b, states[s], { batch: 1, seq: sequences[s].ids.length });
      }
  }
  return { levels: [...o.levels], strategy: o.strategy.name, positions, blocks, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
