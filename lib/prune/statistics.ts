// The calibration pass, shared by the sequential pipeline (lib/prune/pipeline.ts) and
// `sweep --stats once` (lib/sweep/stats-once.ts): embed the calibration sequences, then
// for each block run it over them recording what its linear layers receive and feed the
// statistics collectors (per-column sums with outlier counts for every calibrated run,
// and what each method's collect() adds, as SparseGPT's X^T X), and hand each block's
// statistics to the caller.
//
// recompute: true is the protocol of the reference code: the statistics run works on a
// copy, the caller prunes the block, and the block is run again with its pruned weights
// to give the next block's inputs. recompute: false (`--stats once`): the recording run
// itself advances the hidden states, so every block sees the dense model's activations.
import { CalibrationSet } from '../calibration/sample';
import { BlockCaptures, CaptureName } from '../forward/captures';
import { ForwardModel } from '../forward/model';
import { Backend, ColumnStats } from '../kernels';
import type { CollectorSettings } from '../methods/collectors';
import type { Strategy, StrategyStats } from '../strategies';
import { PhaseClock } from '../util/clock';
import { LinearLayer } from './layers';

/** |x| above which an input activation counts as an outlier (as LLM.int8()). */
export const DEFAULT_ACTIVATION_THRESHOLD = 6;

/** How the statistics are gathered: the same for the pipeline and `--stats once`. */
export interface StatisticsSettings extends CollectorSettings {
  /**
   * The strategies whose collectors are fed (`--stats once` of a sweep: every method of
   * it); the per-column statistics are always gathered. activationThreshold: default
   * DEFAULT_ACTIVATION_THRESHOLD; backend: of the statistics kernels.
   */
  methods: readonly Pick<Strategy, 'collect'>[];
}

/** The statistics of one block: one set per captured layer input. */
export type BlockStats = Map<CaptureName, StrategyStats>;

/** A block's calibration inputs and the dense block's outputs on them, [sequences * seq, hidden] each. */
export interface BlockHidden {
  inputs: Float32Array;
  denseOutputs: Float32Array;
  sequences: number;
  seq: number;
}

export interface CalibrationPassOptions extends StatisticsSettings {
  /** Sequences per forward call (default: as many as fit in about 4096 tokens, at least 1). */
  batch?: number;
  signal?: AbortSignal;
  /** Receives the 'forward' and 'statistics' seconds. */
  clock: PhaseClock;
  recompute: boolean;
  /**
   * With recompute: keep the dense block's outputs on every calibration sequence (the
   * statistics run's own copy, one buffer the size of the hidden states) and hand them
   * with the block's inputs to onStatistics: what a block-wise method reconstructs.
   */
  denseOutputs?: boolean;
  /** Called with each block that has selected layers, once its statistics are complete (the pipeline prunes it here). */
  onStatistics: (block: number, layers: LinearLayer[], stats: BlockStats, hidden?: BlockHidden) => Promise<void>;
  /** Called when nothing later reads block `block`'s weights any more. */
  onBlockDone?: (block: number, layers: LinearLayer[]) => void;
  /** Called as each block starts a phase. */
  onPhase?: (block: number, phase: 'statistics' | 'forward') => void;
}

/** Empty collectors for the inputs of `layers` (the width of an input is its layers' column count). */
export function createCollectors(fm: ForwardModel, layers: LinearLayer[], s: StatisticsSettings): BlockStats {
  const stats: BlockStats = new Map();
  for (const l of layers) {
    if (stats.has(l.input)) continue;
    const width = fm.tensor(l.name).shape[1];
    // The per-column statistics (sum, sum of squares, tokens, |x| > threshold counts) are
    // cheap and what every report shows; the rest are the methods' own (the first method
    // to name a statistic makes it: methods that share a name share its meaning).
    const st: StrategyStats = { columns: new ColumnStats(width, { threshold: s.activationThreshold ?? DEFAULT_ACTIVATION_THRESHOLD }) };
    for (const m of s.methods) for (const [k, c] of Object.entries(m.collect?.(width, s) ?? {})) if (!(k in st)) st[k] = c;
    stats.set(l.input, st);
  }
  return stats;
}

async function feed(st: StrategyStats, x: Float32Array, rows: number, backend: Backend | undefined): Promise<void> {
  // A collector made with its own backend (the Hessian) ignores this one.
  for (const c of Object.values(st)) await c?.add(x, rows, { backend });
}

/**
 * Runs the calibration set through the blocks up to the last one with selected layers
 * (`blocks[i]`: the layers of block i to gather statistics for, possibly none).
 */
export async function calibrationPass(fm: ForwardModel, cal: CalibrationSet, blocks: LinearLayer[][], o: CalibrationPassOptions): Promise<void> {
  const { clock } = o;
  const L = cal.seqLen;
  const K = cal.samples;
  const H = fm.config.hiddenSize;
  // Several sequences per native call amortize the per-call cost on small models; the
  // working memory of a call grows with its tokens, so the default stays near 4096.
  const batch = Math.max(1, Math.min(o.batch ?? Math.floor(4096 / L), K));
  const inps = await clock.time('forward', () => fm.embed(cal.tokens, K, L));
  const rowsOf = (s: number) => Math.min(batch, K - s) * L;
  const hiddenOf = (s: number) => inps.subarray(s * L * H, s * L * H + rowsOf(s) * H);
  // Blocks after the last one with selected layers need no statistics: stop there.
  const end = blocks.reduce((last, ls, i) => (ls.length > 0 ? i + 1 : last), 0);
  // The statistics run works on a copy: one batch at a time, or (denseOutputs) all of them,
  // each batch at its own offset, so that the copy ends up holding the dense block's outputs.
  const keepOutputs = o.recompute && o.denseOutputs === true;
  const scratch = o.recompute ? new Float32Array((keepOutputs ? K : batch) * L * H) : undefined;
  for (let b = 0; b < end; b++) {
    const layers = blocks[b];
    if (layers.length > 0) {
      const stats = createCollectors(fm, layers, o);
      const inputs = [...stats.keys()];
      o.onPhase?.(b, 'statistics');
      const caps = fm.allocCaptures(batch * L, inputs, b);
      for (let s = 0; s < K; s += batch) {
        o.signal?.throwIfAborted();
        const rows = rowsOf(s);
        let hidden = hiddenOf(s);
        if (scratch) {
          const at = keepOutputs ? s * L * H : 0;
          const copy = scratch.subarray(at, at + rows * H);
          copy.set(hidden);
          hidden = copy;
        }
        const c: BlockCaptures = {};
        for (const k of inputs) c[k] = caps[k]!.subarray(0, (caps[k]!.length / (batch * L)) * rows);
        await clock.time('forward', () => fm.runBlock(b, hidden, { batch: rows / L, seq: L, capture: c }));
        await clock.time('statistics', async () => {
          for (const k of inputs) await feed(stats.get(k)!, c[k]!, rows, o.backend);
        });
      }
      await o.onStatistics(b, layers, stats, keepOutputs ? { inputs: inps, denseOutputs: scratch!, sequences: K, seq: L } : undefined);
    }
    // The next block's inputs: this block's outputs, recomputed unless the recording run made them.
    if (b + 1 < end && (o.recompute || layers.length === 0)) {
      o.onPhase?.(b, 'forward');
      for (let s = 0; s < K; s += batch) {
        o.signal?.throwIfAborted();
        await clock.time('forward', () => fm.runBlock(b, hiddenOf(s), { batch: rowsOf(s) / L, seq: L }));
      }
    }
    if (layers.length > 0) o.onBlockDone?.(b, layers);
  }
}
