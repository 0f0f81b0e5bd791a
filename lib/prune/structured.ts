// The structured pipeline: one run for every structured plugin (lib/methods/plugin.ts).
//   1. statistics (calibrated methods): the calibration sequences go through the dense
//      model once, feeding the collectors the plugin creates for each block (collect():
//      the columns of what each unit's consumer receives, downIn one per MLP channel and
//      oIn headDim per head; the cosine of block input/output).
//   2. scores: the plugin scores every unit of every block (or every block).
//   3. selection: the lowest-scoring units go until the removed parameters reach
//      `sparsity` of the prunable block parameters: globally (standardized per unit type
//      when the plugin asks: adaptive widths, FLAP) or the same fraction in every block
//      (--uniform). Channel counts are rounded to a multiple of `multipleOf`. Under GQA a
//      unit of attention is a whole KV group (its KV head and its query heads).
//   4. surgery (lib/prune/surgery.ts), with the removed units' mean contribution added to
//      the consumer's bias when the plugin compensates.
// --structure layers removes round(sparsity x blocks) whole blocks with the lowest scores.
import { ArgumentRangeError } from '../errors';
import { CalibrationSet } from '../calibration/sample';
import { ForwardModel } from '../forward/model';
import type { BlockCollectors } from '../methods/collectors';
import type { BlockUnitScores, Structure, StructuredMethod } from '../methods/plugin';
import { blockShape, blockShapes } from '../model/shapes';
import { BlockShape, LoadedModel } from '../model/types';
import { PhaseClock } from '../util/clock';
import { compensationDelta } from './compensation';
import { columnNorms, rowNorms, seeded, UnitContext } from './unit-context';
import { blockParameters, keepBlocks, keepChannels, keepHeads, mlpNames, modelSize } from './surgery';

export interface StructuredOptions {
  method: StructuredMethod;
  structure: Structure;
  /** Fraction of the prunable block parameters removed (layers: of blocks, rounded). */
  sparsity: number;
  /** The same widths in every block (standard HF configs need it). */
  uniform?: boolean;
  /** MLP widths are rounded to a multiple of this (default 8). */
  multipleOf?: number;
  /**
   * Under grouped-query attention, one unit of attention: a whole KV group with its query
   * heads ('group', default), or one query head from every group ('query': the KV heads stay).
   */
  headUnit?: HeadUnit;
  /**
   * With --uniform: the number of query heads each block keeps must divide this (the hidden
   * size, where the output is a Hugging Face Llama with biases, whose config refuses others).
   */
  keptHeadsDivide?: number;
  calibration?: CalibrationSet;
  /** Seed of the random method's draws (default 0). */
  seed?: number;
  /** Sequences per forward call in the statistics pass. */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'statistics' | 'scoring' | 'surgery'; block: number; blocks: number; label: string }) => void;
}

export type HeadUnit = 'group' | 'query';
export const HEAD_UNITS: readonly HeadUnit[] = ['group', 'query'];

export interface StructuredResult {
  structure: Structure;
  method: string;
  uniform: boolean;
  /** Parameters and bytes of the whole model, before and after. */
  before: { parameters: number; bytes: number; blockParameters: number };
  after: { parameters: number; bytes: number; blockParameters: number };
  /** Removed fraction of the prunable block parameters (what --sparsity asked for). */
  achievedSparsity: number;
  /** Widths of every block, before and after (blocks removed: listed in removedBlocks). */
  widthsBefore: BlockShape[];
  widthsAfter: BlockShape[];
  removedBlocks: number[];
  /** Units removed, and their fraction of the units of that kind (blocks removed whole not counted). */
  removedUnits: { channels: number; channelFraction: number; heads: number; headFraction: number };
  /** bias method: how many channels fire with probability in [k/10, (k+1)/10), per decile. */
  firingHistogram?: number[];
  notes: string[];
  timings: Record<string, number>;
}

type BlockStats = BlockCollectors;

/** One removable unit: a channel or an attention unit (a head, or a whole KV group under GQA). */
interface Unit {
  block: number;
  type: 'channel' | 'attention';
  /** Channel index, or the first query head of the unit. */
  index: number;
  /** Query heads of an attention unit. */
  heads: number[];
  score: number;
  cost: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Why `m` cannot remove `structure` from `model` ("NA: ..." when the model lacks what it reads), or undefined. */
export function structuredUnsupported(model: LoadedModel, m: StructuredMethod, structure: Structure): string | undefined {
  if (!m.structures.includes(structure)) return `NA: ${m.name} removes ${m.structures.join(' / ')}, not ${structure}`;
  const c = model.config;
  const hasBiases = [...model.tensors.keys()].some((n) => /^blocks\.\d+\.(mlp\.(fc1|up)|attn\.[qkvo])\.bias$/.test(n));
  return m.unsupported?.({ architecture: c.architecture, hasBiases, activation: c.activation });
}

/** structuredUnsupported as an error naming the model. */
export function checkStructuredRun(model: LoadedModel, m: StructuredMethod, structure: Structure): void {
  if (!m.structures.includes(structure)) throw new ArgumentRangeError(`method ${m.name} removes ${m.structures.join(' / ')}, not --structure ${structure}`);
  const why = structuredUnsupported(model, m, structure);
  if (why) throw new ArgumentRangeError(`method ${m.name} cannot prune ${model.path}: ${why}`);
}

export async function runStructured(model: LoadedModel, o: StructuredOptions): Promise<StructuredResult> {
  const m = o.method;
  const clock = new PhaseClock();
  const notes: string[] = [];
  checkStructuredRun(model, m, o.structure);
  if (!(o.sparsity >= 0 && o.sparsity < 1)) throw new ArgumentRangeError(`--sparsity must be in [0, 1), got ${o.sparsity}`);
  const multipleOf = o.multipleOf ?? 8;
  if (!Number.isInteger(multipleOf) || multipleOf < 1) throw new ArgumentRangeError(`--multiple-of must be a positive integer, got ${multipleOf}`);
  const c0 = model.config;
  if (m.calibrated && !o.calibration) throw new ArgumentRangeError(`method ${m.name} needs calibration data`);

  const before = { ...modelSize(model), blockParameters: blockParameters(model) };
  const widthsBefore = blockShapes(c0);
  const L = c0.numLayers;
  const progress = (phase: 'statistics' | 'scoring' | 'surgery', b: number) =>
    o.onProgress?.({ phase, block: b + 1, blocks: L, label: `block ${b + 1}/${L} ${phase}` });

  // 1. Statistics on the dense model.
  const stats: BlockStats[] = range(L).map(() => ({}));
  let meanCosine: Float64Array | undefined;
  if (m.calibrated && o.calibration) {
    const r = await clock.time('statistics', () => denseStatistics(model, o.calibration!, m, o, progress));
    r.stats.forEach((s, i) => (stats[i] = s));
    meanCosine = r.meanCosine;
  }

  const removedBlocks: number[] = [];
  let firingHistogram: number[] | undefined;
  if (o.structure === 'layers') {
    if (!m.scoreBlocks) throw new ArgumentRangeError(`method ${m.name} does not score whole blocks`);
    const random = seeded(o.seed ?? 0);
    const scores = await clock.time('scoring', () =>
      m.scoreBlocks!({ config: c0, meanCosine, random, meanAbsWeight: (b) => meanAbsWeight(model, b) }),
    );
    const n = Math.round(o.sparsity * L);
    if (n >= L) throw new ArgumentRangeError(`--sparsity ${o.sparsity} would remove all ${L} blocks`);
    const order = range(L).sort((a, b) => scores[a] - scores[b] || a - b);
    removedBlocks.push(...order.slice(0, n).sort((a, b) => a - b));
    if (n === 0 && o.sparsity > 0) notes.push(`--sparsity ${o.sparsity} of ${L} blocks rounds to 0 blocks: nothing removed`);
    keepBlocks(model, range(L).filter((b) => !removedBlocks.includes(b)));
  } else {
    // 2. Scores.
    const units: Unit[] = [];
    for (let b = 0; b < L; b++) {
      o.signal?.throwIfAborted();
      progress('scoring', b);
      const ctx = unitContext(model, b, stats[b], seeded((o.seed ?? 0) * 7919 + b));
      const s = await clock.time('scoring', () => m.scoreUnits!(ctx));
      units.push(...unitsOf(model, b, s, o.structure, o.headUnit ?? 'group'));
    }
    if (stats.some((st) => st.downIn?.exceed)) firingHistogram = histogram(stats);
    checkRemovable(model, units, o);
    // 3. Selection.
    const removed = selectUnits(units, o.sparsity, before.blockParameters, {
      uniform: o.uniform === true,
      standardize: m.standardize === true,
      keptHeadsDivide: o.keptHeadsDivide,
      notes,
    });
    roundChannels(model, units, removed, multipleOf, notes);
    // 4. Surgery, block by block.
    for (let b = 0; b < L; b++) {
      o.signal?.throwIfAborted();
      const gone = units.filter((u) => u.block === b && removed.has(u));
      if (gone.length === 0) continue;
      progress('surgery', b);
      await clock.time('surgery', () => removeUnits(model, b, gone, m.compensate === true ? stats[b] : undefined));
    }
  }
  const after = { ...modelSize(model), blockParameters: blockParameters(model) };
  const kept = blockShapes(model.config);
  const sum = (xs: BlockShape[], k: keyof BlockShape) => xs.reduce((a, b) => a + b[k], 0);
  const removedUnits =
    o.structure === 'layers'
      ? { channels: 0, channelFraction: 0, heads: 0, headFraction: 0 }
      : {
          channels: sum(widthsBefore, 'intermediateSize') - sum(kept, 'intermediateSize'),
          channelFraction: 1 - sum(kept, 'intermediateSize') / Math.max(1, sum(widthsBefore, 'intermediateSize')),
          heads: sum(widthsBefore, 'numHeads') - sum(kept, 'numHeads'),
          headFraction: 1 - sum(kept, 'numHeads') / Math.max(1, sum(widthsBefore, 'numHeads')),
        };
  const achievedSparsity = before.blockParameters > 0 ? 1 - after.blockParameters / before.blockParameters : 0;
  return {
    structure: o.structure,
    method: m.name,
    uniform: o.uniform === true,
    before,
    after,
    achievedSparsity,
    widthsBefore,
    widthsAfter: blockShapes(model.config),
    removedBlocks,
    removedUnits,
    firingHistogram,
    notes,
    timings: clock.timings,
  };
}

function unitContext(model: LoadedModel, b: number, s: BlockStats, random: () => number): UnitContext {
  const t = (name: string) => {
    const x = model.tensors.get(name);
    if (!x) throw new ArgumentRangeError(`block ${b} has no tensor ${name}`);
    return x;
  };
  const names = mlpNames(model, b);
  return {
    block: b,
    config: model.config,
    shape: blockShape(model.config, b),
    mlp: { producers: names.producers, consumer: names.consumer },
    tensor: (n) => model.tensors.get(n),
    downIn: s.downIn,
    oIn: s.oIn,
    columnNorms: (n) => columnNorms(t(n)),
    rowNorms: (n) => rowNorms(t(n)),
    random,
  };
}

/**
 * Every block keeps at least one unit of each kind; when no block has two, nothing can go:
 * say why (a model with one KV head per block cannot lose heads without breaking its
 * grouped-query attention) instead of writing an unchanged model.
 */
function checkRemovable(model: LoadedModel, units: Unit[], o: StructuredOptions): void {
  if (o.sparsity === 0) return;
  const per = new Map<string, number>();
  for (const u of units) per.set(`${u.block}:${u.type}`, (per.get(`${u.block}:${u.type}`) ?? 0) + 1);
  if ([...per.values()].some((n) => n > 1)) return;
  const s = blockShape(model.config, 0);
  const why =
    o.structure === 'heads'
      ? `every block has a single attention unit (${s.numHeads} query heads sharing ${s.numKvHeads} KV head${s.numKvHeads === 1 ? '' : 's'}: under grouped-query attention a KV head goes only with all of its query heads, and a block keeps at least one)`
      : `no block has more than one unit of ${o.structure}`;
  throw new ArgumentRangeError(`--structure ${o.structure} cannot remove anything from ${model.path}: ${why}; try --structure channels or layers`);
}

/** Parameters removed with one channel / one query head of block b (its rows, columns and bias entries). */
function unitCosts(model: LoadedModel, b: number): { channel: number; head: number; kvHead: number } {
  const c = model.config;
  const H = c.hiddenSize;
  const d = c.headDim;
  const names = mlpNames(model, b);
  let channel = 0;
  for (const n of names.producers) if (model.tensors.has(n)) channel += n.endsWith('.bias') ? 1 : H;
  channel += H; // its column of the consumer
  const has = (n: string) => model.tensors.has(`blocks.${b}.attn.${n}`);
  const head = d * H * 2 + (has('q.bias') ? d : 0); // q rows, o columns
  const kvHead = d * H * 2 + (has('k.bias') ? d : 0) + (has('v.bias') ? d : 0);
  return { channel, head, kvHead };
}

function unitsOf(model: LoadedModel, b: number, s: BlockUnitScores, structure: Structure, headUnit: HeadUnit): Unit[] {
  const out: Unit[] = [];
  const shape = blockShape(model.config, b);
  const cost = unitCosts(model, b);
  if ((structure === 'channels' || structure === 'width') && s.channels)
    s.channels.forEach((score, j) => out.push({ block: b, type: 'channel', index: j, heads: [], score, cost: cost.channel }));
  if ((structure === 'heads' || structure === 'width') && s.heads && shape.numHeads > 0) {
    const ratio = shape.numHeads / shape.numKvHeads;
    if (ratio > 1 && headUnit === 'query') {
      // GQA, one query head from every group: unit r holds the r-th lowest-scored query head
      // of each group, so every group keeps as many query heads as the others.
      const byGroup = range(shape.numKvHeads).map((g) =>
        range(ratio)
          .map((k) => g * ratio + k)
          .sort((x, y) => s.heads![x] - s.heads![y] || x - y),
      );
      for (let r = 0; r < ratio; r++) {
        const heads = byGroup.map((hs) => hs[r]).sort((x, y) => x - y);
        out.push({ block: b, type: 'attention', index: r, heads, score: heads.reduce((a, h) => a + s.heads![h], 0), cost: heads.length * cost.head });
      }
    } else if (ratio > 1) {
      // GQA: a unit is a KV group (the KV head and its query heads), so heads / KV heads stays an integer.
      for (let g = 0; g < shape.numKvHeads; g++) {
        const heads = range(ratio).map((k) => g * ratio + k);
        out.push({ block: b, type: 'attention', index: heads[0], heads, score: heads.reduce((a, h) => a + s.heads![h], 0), cost: ratio * cost.head + cost.kvHead });
      }
    } else {
      s.heads.forEach((score, h) => out.push({ block: b, type: 'attention', index: h, heads: [h], score, cost: cost.head + cost.kvHead }));
    }
  }
  return out;
}

/**
 * The units to remove: the lowest scores until `sparsity` of `total` parameters are gone,
 * every block keeping at least one unit of each type. Uniform: the same fraction of
 * each type's units in every block.
 */
function selectUnits(
  units: Unit[],
  sparsity: number,
  total: number,
  o: { uniform: boolean; standardize: boolean; keptHeadsDivide?: number; notes: string[] },
): Set<Unit> {
  const removed = new Set<Unit>();
  if (sparsity === 0 || units.length === 0) return removed;
  const key = (u: Unit) => `${u.block}:${u.type}`;
  const groups = new Map<string, Unit[]>();
  for (const u of units) {
    const g = groups.get(key(u));
    if (g) g.push(u);
    else groups.set(key(u), [u]);
  }
  if (o.uniform) {
    // Each block loses the same fraction of each type. Attention units are coarse (a block
    // may hold 2 KV groups), so they are taken first, at the fraction the budget asks of
    // every unit; the MLP channels, fine-grained, then take what is left of the budget.
    const budget = sparsity * total;
    const cost = (us: Unit[]) => us.reduce((a, u) => a + u.cost, 0);
    const attention = [...groups.values()].filter((g) => g[0].type === 'attention');
    const channels = [...groups.values()].filter((g) => g[0].type === 'channel');
    const lowest = (g: Unit[], n: number) => g.slice().sort((a, b) => a.score - b.score || a.index - b.index).slice(0, n);
    const fraction = Math.min(1, budget / cost(units));
    const rounded = new Set<string>();
    let spent = 0;
    for (const g of attention) {
      let n = Math.min(g.length - 1, Math.round(fraction * g.length));
      if (o.keptHeadsDivide) {
        const m = allowedRemoval(g, n, o.keptHeadsDivide);
        if (m !== n) rounded.add(`${n} -> ${m}`);
        n = m;
      }
      for (const u of lowest(g, n)) {
        removed.add(u);
        spent += u.cost;
      }
    }
    const rest = channels.length > 0 ? Math.min(1, Math.max(0, (budget - spent) / cost(channels.flat()))) : 0;
    for (const g of channels) lowest(g, Math.min(g.length - 1, Math.round(rest * g.length))).forEach((u) => removed.add(u));
    if (rounded.size > 0)
      o.notes.push(
        `attention units removed per block rounded (${[...rounded].join(', ')}) so that the heads kept divide the hidden size ` +
          `${o.keptHeadsDivide}: transformers' LlamaConfig refuses other head counts, and this Llama output has biases`,
      );
    return removed;
  }
  const value = standardizer(units, o.standardize);
  const budget = sparsity * total;
  const left = new Map([...groups].map(([k, g]) => [k, g.length]));
  let spent = 0;
  for (const u of units.slice().sort((a, b) => value(a) - value(b) || a.block - b.block || a.index - b.index)) {
    if (spent >= budget) break;
    if (left.get(key(u))! <= 1) continue; // never the last unit of a type in a block
    if (spent + u.cost > budget * 1.0001 + 0.5 * u.cost) continue;
    removed.add(u);
    left.set(key(u), left.get(key(u))! - 1);
    spent += u.cost;
  }
  return removed;
}

/**
 * The number of a block's attention units to remove nearest to `n` (ties: fewer) whose kept
 * query heads divide `divisor`; the group's first unit's head count stands for every unit
 * (uniform blocks hold units of one size). At least one unit is kept; with no count allowed, n.
 */
function allowedRemoval(g: Unit[], n: number, divisor: number): number {
  const per = g[0].heads.length;
  let best = -1;
  for (let m = 0; m < g.length; m++) {
    if (divisor % ((g.length - m) * per) !== 0) continue;
    if (best < 0 || Math.abs(m - n) < Math.abs(best - n) || (Math.abs(m - n) === Math.abs(best - n) && m < best)) best = m;
  }
  return best < 0 ? n : best;
}

/**
 * Scores made comparable across blocks and unit kinds before the global selection:
 * z-scores per unit kind over all blocks when the method standardizes (FLAP); otherwise
 * each score relative to the mean score of its block's units of the same kind. Raw scores
 * such as L1 norms differ in scale from block to block (block 0's are far smaller in the
 * demo model), and comparing them raw strips whole blocks (measured: l1 at 20% without
 * this left block 0 of the demo model 8-24 channels and perplexity 1429; --uniform 96).
 */
function standardizer(units: Unit[], on: boolean): (u: Unit) => number {
  if (!on) {
    const sums = new Map<string, { sum: number; n: number }>();
    for (const u of units) {
      const k = `${u.block}:${u.type}`;
      const e = sums.get(k) ?? { sum: 0, n: 0 };
      e.sum += u.score;
      e.n++;
      sums.set(k, e);
    }
    return (u) => {
      const e = sums.get(`${u.block}:${u.type}`)!;
      const mean = e.sum / e.n;
      return mean > 0 ? u.score / mean : u.score;
    };
  }
  const moments = new Map<string, { mean: number; std: number }>();
  for (const type of ['channel', 'attention']) {
    const xs = units.filter((u) => u.type === type).map((u) => u.score);
    if (xs.length === 0) continue;
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length) || 1;
    moments.set(type, { mean, std });
  }
  return (u) => (u.score - moments.get(u.type)!.mean) / moments.get(u.type)!.std;
}

/** Adjusts each block's removed channels so that its kept MLP width is a multiple of k. */
function roundChannels(model: LoadedModel, units: Unit[], removed: Set<Unit>, k: number, notes: string[]): void {
  if (k <= 1) return;
  let changed = 0;
  for (let b = 0; b < model.config.numLayers; b++) {
    const ch = units.filter((u) => u.block === b && u.type === 'channel').sort((x, y) => x.score - y.score || x.index - y.index);
    if (ch.length === 0) continue;
    const gone = ch.filter((u) => removed.has(u)).length;
    if (gone === 0) continue;
    const kept = ch.length - gone;
    const target = Math.min(ch.length, Math.max(k, Math.round(kept / k) * k));
    if (target === kept) continue;
    changed++;
    ch.forEach((u, i) => (i < ch.length - target ? removed.add(u) : removed.delete(u)));
  }
  if (changed > 0) notes.push(`MLP widths of ${changed} block(s) rounded to a multiple of ${k} (--multiple-of)`);
}

async function removeUnits(model: LoadedModel, b: number, gone: Unit[], stats: BlockStats | undefined): Promise<void> {
  const shape = blockShape(model.config, b);
  const ch = gone.filter((u) => u.type === 'channel').map((u) => u.index);
  const goneChannels = new Set(ch);
  if (ch.length > 0) {
    const names = mlpNames(model, b);
    const downBias = stats?.downIn ? await compensationDelta(model.tensors.get(`${names.consumer}.weight`)!, stats.downIn, ch) : undefined;
    await keepChannels(
      model,
      b,
      range(shape.intermediateSize).filter((j) => !goneChannels.has(j)),
      { downBias },
    );
  }
  const heads = gone.filter((u) => u.type === 'attention').flatMap((u) => u.heads);
  const goneHeads = new Set(heads);
  if (heads.length > 0) {
    const d = model.config.headDim;
    const cols = heads.flatMap((h) => range(d).map((j) => h * d + j));
    const oBias = stats?.oIn ? await compensationDelta(model.tensors.get(`blocks.${b}.attn.o.weight`)!, stats.oIn, cols) : undefined;
    await keepHeads(
      model,
      b,
      range(shape.numHeads).filter((h) => !goneHeads.has(h)),
      { oBias },
    );
  }
}

/** How many channels fire with probability in each tenth of [0, 1] (bias method report). */
function histogram(stats: BlockStats[]): number[] {
  const h = new Array<number>(10).fill(0);
  for (const s of stats) {
    if (!s.downIn?.exceed) continue;
    const n = Math.max(1, s.downIn.count);
    for (const f of s.downIn.exceed) h[Math.min(9, Math.floor((f / n) * 10))]++;
  }
  return h;
}

async function meanAbsWeight(model: LoadedModel, b: number): Promise<number> {
  let sum = 0;
  let n = 0;
  for (const [name, t] of model.tensors) {
    if (!name.startsWith(`blocks.${b}.`) || t.shape.length !== 2) continue;
    const norms = await columnNorms(t);
    sum += norms.l1.reduce((a, x) => a + x, 0);
    n += t.data.length;
  }
  return n > 0 ? sum / n : 0;
}

/**
 * One pass of the calibration set through the dense model, feeding the collectors the
 * method creates for each block (consumer-input columns, block input/output cosines).
 */
async function denseStatistics(
  model: LoadedModel,
  cal: CalibrationSet,
  m: StructuredMethod,
  o: StructuredOptions,
  progress: (phase: 'statistics', b: number) => void,
): Promise<{ stats: BlockStats[]; meanCosine?: Float64Array }> {
  const fm = new ForwardModel(model);
  const c = model.config;
  const Lq = cal.seqLen;
  const K = cal.samples;
  const H = c.hiddenSize;
  const batch = Math.max(1, Math.min(o.batch ?? Math.floor(4096 / Lq), K));
  const hidden = await fm.embed(cal.tokens, K, Lq);
  const out: BlockStats[] = [];
  for (let b = 0; b < c.numLayers; b++) {
    progress('statistics', b);
    const s: BlockStats = m.collect?.({ config: c, block: b, shape: blockShape(c, b) }) ?? {};
    const inputs = (['downIn', 'oIn'] as const).filter((n) => s[n]);
    const caps = inputs.length > 0 ? fm.allocCaptures(batch * Lq, [...inputs], b) : undefined;
    for (let k = 0; k < K; k += batch) {
      o.signal?.throwIfAborted();
      const rows = Math.min(batch, K - k) * Lq;
      const h = hidden.subarray(k * Lq * H, k * Lq * H + rows * H);
      const input = s.blockCosine ? h.slice() : undefined;
      const cap = caps ? Object.fromEntries(inputs.map((n) => [n, caps[n]!.subarray(0, (caps[n]!.length / (batch * Lq)) * rows)])) : undefined;
      await fm.runBlock(b, h, { batch: rows / Lq, seq: Lq, capture: cap });
      for (const n of inputs) await s[n]!.add(cap![n]!, rows);
      if (input) s.blockCosine!.add(input, h, H);
    }
    out.push(s);
  }
  const meanCosine = out.some((s) => s.blockCosine) ? Float64Array.from(out, (s) => s.blockCosine?.mean() ?? 0) : undefined;
  return { stats: out, meanCosine };
}
