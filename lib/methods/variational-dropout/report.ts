// What variational dropout tells the prune report: per layer the reconstruction errors and
// KL, and the distribution of log alpha per block and over the whole run (counts per unit
// bin of the clip range [-8, 8]).
import { LOG_ALPHA_RANGE } from './train';

export interface VdLayerReport {
  /** The block, counted from 0 (scope layer: in pruning order, layers whose inputs were collected together). */
  block: number;
  /** block: the errors below are the block output's (the same for the block's matrices); layer: this layer's. */
  scope: 'block' | 'layer';
  rows: number;
  cols: number;
  /** Mean squared error of the sampled outputs (block or layer) on the first and last training step. */
  mseFirst: number;
  mseLast: number;
  /** Mean squared error of the mean network (theta) on every kept calibration row. */
  mseMean: number;
  kl: number;
  /** Counts of log alpha per bin (LOG_ALPHA_RANGE). */
  histogram: number[];
}

const addInto = (acc: number[], h: readonly number[]) => h.forEach((c, i) => (acc[i] = (acc[i] ?? 0) + c));

/** The bin edges, e.g. "[-8,-7)". */
export function binLabels(): string[] {
  const { lo, hi, bins } = LOG_ALPHA_RANGE;
  const w = (hi - lo) / bins;
  return Array.from({ length: bins }, (_, b) => `[${lo + b * w},${lo + (b + 1) * w}${b === bins - 1 ? ']' : ')'}`);
}

/** Histograms summed per block, and over every layer. */
export function logAlphaHistograms(layers: readonly VdLayerReport[]): { blocks: number[][]; overall: number[] } {
  const blocks: number[][] = [];
  const overall: number[] = [];
  for (const l of layers) {
    addInto((blocks[l.block] ??= []), l.histogram);
    addInto(overall, l.histogram);
  }
  return { blocks, overall };
}

/** One line per block and one overall: "log alpha histogram block 1 (bins [-8,-7) ... [7,8]): 0 3 ...". */
export function reportNotes(layers: readonly VdLayerReport[]): string[] {
  if (layers.length === 0) return [];
  const { blocks, overall } = logAlphaHistograms(layers);
  const labels = binLabels();
  const line = (what: string, h: number[]) => `variational-dropout log alpha histogram, ${what}: ${h.map((c, i) => `${labels[i]} ${c}`).join(', ')}`;
  const mse = layers.map((l) => l.mseMean);
  const what = layers[0].scope === 'block' ? 'block output' : 'layer';
  const perBlock: string[] = [];
  blocks.forEach((h, b) => perBlock.push(line(`block ${b + 1}`, h)));
  return [
    ...perBlock,
    line('all layers', overall),
    `variational-dropout reconstruction (mean network, before masking): mean squared error per ${what} from ${Math.min(...mse).toExponential(2)} to ${Math.max(...mse).toExponential(2)}`,
  ];
}
