// RIA (lib/methods/plugins/ria.ts): the native score against a plain float64 reference of
// the formula, the channel permutation against references of what it keeps and of the
// reference code's quantile deal, moving MLP channels without changing the model's
// logits, and prune --method ria end to end (exact sparsity per row and per N:M group,
// the same bits twice, --permute's down projections N:M in stored order with at least
// the stored order's retained score, refusals).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError, NonFiniteError } from '../../lib/errors';
import { ForwardModel } from '../../lib/forward/model';
import { ColumnStats, convertDType, poolThreads, setPoolThreads } from '../../lib/kernels';
import { loadModel } from '../../lib/formats/load';
import { ria } from '../../lib/methods/plugins/ria';
import { permuteMlpChannels } from '../../lib/methods/ria-channels';
import { riaChannelPermutation, riaScores } from '../../lib/methods/ria-kernels';
import { LoadedModel, Tensor } from '../../lib/model/types';
import { runPipeline } from '../../lib/prune/pipeline';
import { prune } from '../../lib/prune/run';
import { Matrix } from '../../lib/tensor';
import { randomModel, rng, makeTensor } from '../forward/random-model';
import { runCli } from '../support/cli';
import { countZeros, isZero, minZerosPerGroup, ROOT, tempDir, zerosPerRow } from '../prune/helpers';
import { linearNames, writeCalibTokens, writeTinyModel, tinyPrune } from '../prune/tiny';
import { CalibrationSet } from '../../lib/calibration/sample';

/** Uniform values in [-1, 1) with every `tieEvery`-th one snapped to a coarse grid (ties) and row/column `zero` all zeros. */
function randomMatrix(rows: number, cols: number, seed: number, o: { zeroRow?: number; zeroCol?: number } = {}): Float32Array {
  const r = rng(seed);
  const w = Float32Array.from({ length: rows * cols }, () => (r() < 0.3 ? Math.round((r() * 2 - 1) * 4) / 4 : r() * 2 - 1));
  if (o.zeroRow !== undefined) w.fill(0, o.zeroRow * cols, (o.zeroRow + 1) * cols);
  if (o.zeroCol !== undefined) for (let i = 0; i < rows; i++) w[i * cols + o.zeroCol] = 0;
  return w;
}

/** The formula in float64, one rounding at the end; sums over rows / columns in index order (a zero sum contributes 0). */
function riaReference(w: ArrayLike<number>, rows: number, cols: number, act: Float32Array, a = 0.5): Float32Array {
  const rowSum = new Float64Array(rows);
  const colSum = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) rowSum[i] += Math.abs(w[i * cols + j]);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) colSum[j] += Math.abs(w[i * cols + j]);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const v = Math.abs(w[i * cols + j]);
      const rel = (colSum[j] > 0 ? v / colSum[j] : 0) + (rowSum[i] > 0 ? v / rowSum[i] : 0);
      out[i * cols + j] = Math.fround(rel * (a === 0.5 ? Math.sqrt(act[j]) : act[j] ** a));
    }
  return out;
}

/** Sum over rows and groups of M consecutive positions (a last partial one too) of the N highest scores, channels taken through perm. */
function retainedReference(s: Float32Array, rows: number, cols: number, n: number, m: number, perm: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < rows; i++)
    for (let g = 0; g < cols; g += m) {
      const group = Array.from({ length: Math.min(m, cols - g) }, (_, t) => s[i * cols + perm[g + t]]).sort((x, y) => y - x);
      total += group.slice(0, n).reduce((a, b) => a + b, 0);
    }
  return total;
}

/** The reference code's heuristic channel reallocation: columns by total score ascending; slot s of group g gets quantile s's g-th channel, reversed for odd s. */
function dealReference(s: Float32Array, rows: number, cols: number, m: number): number[] {
  const groups = Math.floor(cols / m);
  const c = groups * m;
  const total = Array.from({ length: c }, (_, j) => {
    let t = 0;
    for (let i = 0; i < rows; i++) t += s[i * cols + j];
    return t;
  });
  const order = Array.from({ length: c }, (_, j) => j).sort((x, y) => total[x] - total[y] || x - y);
  const perm = Array.from({ length: cols }, (_, j) => j);
  for (let slot = 0; slot < m; slot++)
    for (let g = 0; g < groups; g++) perm[g * m + slot] = order[slot * groups + (slot % 2 === 1 ? groups - 1 - g : g)];
  return perm;
}

const positiveAct = (cols: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: cols }, (_, j) => (j % 5 === 0 ? 2 : r() * 3));
};

/** The first index whose bits differ, or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  return x.findIndex((v, i) => v !== y[i]);
}

const f32 = (data: Float32Array, rows: number, cols: number): Matrix => ({ data, dtype: 'f32', rows, cols });

/** Rejects with an instance of `type` whose message matches `message`. */
async function rejectsWith(p: Promise<unknown>, type: new (...args: never[]) => Error, message: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(type);
  expect((e as Error).message).toMatch(message);
}

async function withThreads<T>(n: number, run: () => Promise<T>): Promise<T> {
  const before = poolThreads();
  setPoolThreads(n);
  try {
    return await run();
  } finally {
    setPoolThreads(before);
  }
}

describe('riaScores (native) against the formula', () => {
  test.each([
    [1, 5],
    [7, 13],
    [33, 17],
    [64, 300],
  ])('%i x %i: the same bits as a float64 reference, ties and an all-zero row and column included', async (rows, cols) => {
    const w = randomMatrix(rows, cols, rows * 31 + cols, { zeroRow: rows > 1 ? rows - 1 : undefined, zeroCol: cols > 3 ? 2 : undefined });
    const act = positiveAct(cols, cols);
    act[cols - 1] = 0;
    const got = await riaScores(f32(w, rows, cols), act);
    expect(firstDifference(got, riaReference(w, rows, cols, act))).toBe(-1);
  });

  test.each(['f16', 'bf16'] as const)('%s weights: scored as their float32 values', async (dtype) => {
    const [rows, cols] = [9, 22];
    const t = makeTensor('w', [rows, cols], randomMatrix(rows, cols, 5), dtype);
    const widened = (await convertDType(t.data, dtype, 'f32')) as Float32Array;
    const act = positiveAct(cols, 2);
    const got = await riaScores({ data: t.data, dtype, rows, cols }, act);
    expect(firstDifference(got, riaReference(widened, rows, cols, act))).toBe(-1);
  });

  test('the same bits with one thread and with the pool', async () => {
    const [rows, cols] = [257, 301];
    const w = randomMatrix(rows, cols, 11);
    const act = positiveAct(cols, 12);
    const one = await withThreads(1, () => riaScores(f32(w, rows, cols), act));
    const many = await withThreads(4, () => riaScores(f32(w, rows, cols), act));
    expect(firstDifference(one, many)).toBe(-1);
  });

  test('a non-finite weight or statistic is a typed error naming where it is', async () => {
    const w = randomMatrix(4, 6, 1);
    w[2 * 6 + 3] = NaN;
    w[3 * 6 + 1] = Infinity;
    await rejectsWith(riaScores(f32(w, 4, 6), positiveAct(6, 1)), NonFiniteError, /^weights contain a non-finite value at row 2, column 3$/);
    const act = positiveAct(6, 1);
    act[4] = NaN;
    await expect(riaScores(f32(randomMatrix(4, 6, 1), 4, 6), act)).rejects.toBeInstanceOf(NonFiniteError);
    act[4] = -1;
    await expect(riaScores(f32(randomMatrix(4, 6, 1), 4, 6), act)).rejects.toBeInstanceOf(ArgumentRangeError);
    await expect(riaScores(f32(randomMatrix(4, 6, 1), 4, 6), positiveAct(5, 1))).rejects.toThrow(/act/);
  });
});

describe('riaChannelPermutation', () => {
  const scoresOf = async (rows: number, cols: number, seed: number) => riaScores(f32(randomMatrix(rows, cols, seed), rows, cols), positiveAct(cols, seed + 1));

  test.each([
    [2, 4, 16, 64],
    [2, 4, 5, 30],
    [1, 4, 12, 40],
    [4, 8, 9, 64],
  ])('%i:%i on %i x %i: a permutation whose retained score is measured right and never below the stored order', async (n, m, rows, cols) => {
    const s = await scoresOf(rows, cols, n * 100 + cols);
    const p = await riaChannelPermutation(s, rows, cols, { n, m });
    expect([...p.perm].sort((a, b) => a - b)).toEqual(Array.from({ length: cols }, (_, j) => j));
    const identity = Array.from({ length: cols }, (_, j) => j);
    expect(p.identity).toBeCloseTo(retainedReference(s, rows, cols, n, m, identity), 9);
    expect(p.heuristic).toBeCloseTo(retainedReference(s, rows, cols, n, m, dealReference(s, rows, cols, m)), 9);
    expect(p.retained).toBeCloseTo(retainedReference(s, rows, cols, n, m, p.perm), 9);
    expect(p.retained).toBeGreaterThanOrEqual(p.identity);
    expect(p.retained).toBeGreaterThanOrEqual(Math.max(p.identity, p.heuristic) - 1e-9);
    // channels of a trailing partial group stay where they are
    for (let j = Math.floor(cols / m) * m; j < cols; j++) expect(p.perm[j]).toBe(j);
    // the deal alone: the better of the stored order and the deal
    const deal = await riaChannelPermutation(s, rows, cols, { n, m }, { lsaGroups: 0 });
    expect(deal.retained).toBe(Math.max(deal.identity, deal.heuristic));
    expect(p.retained).toBeGreaterThanOrEqual(deal.retained);
  });

  test('heavy channels stored side by side: spreading them over the groups keeps much more', async () => {
    const [rows, cols] = [8, 32];
    const s = new Float32Array(rows * cols).fill(0.01);
    for (let i = 0; i < rows; i++) for (let j = 0; j < 8; j++) s[i * cols + j] = 1; // groups 0 and 1 hold every heavy channel
    const p = await riaChannelPermutation(s, rows, cols, { n: 2, m: 4 });
    expect(p.identity).toBeCloseTo(rows * (4 * 1 + 6 * 2 * 0.01), 5);
    expect(p.retained).toBeCloseTo(rows * 8 * 1 + rows * 8 * 0.01, 5); // every heavy channel kept, one per slot pair
  });

  test('after the last assignment round, no reassignment of the last slot among the groups keeps more (brute force)', async () => {
    const [rows, cols, n, m] = [6, 20, 2, 4];
    const s = await scoresOf(rows, cols, 77);
    const p = await riaChannelPermutation(s, rows, cols, { n, m });
    const groups = cols / m;
    const slot = Array.from({ length: groups }, (_, g) => p.perm[g * m + m - 1]);
    const permutations = (xs: number[]): number[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest])));
    let best = -Infinity;
    for (const order of permutations(slot)) {
      const trial = Array.from(p.perm);
      order.forEach((c, g) => (trial[g * m + m - 1] = c));
      best = Math.max(best, retainedReference(s, rows, cols, n, m, trial));
    }
    expect(p.retained).toBeGreaterThanOrEqual(best - 1e-9);
  });

  test('the same permutation with one thread and with the pool; bad scores are refused', async () => {
    const [rows, cols] = [40, 512];
    const s = await scoresOf(rows, cols, 5);
    const one = await withThreads(1, () => riaChannelPermutation(s, rows, cols, { n: 2, m: 4 }));
    const many = await withThreads(4, () => riaChannelPermutation(s, rows, cols, { n: 2, m: 4 }));
    expect(many).toEqual(one);
    s[3 * cols + 7] = NaN;
    await rejectsWith(riaChannelPermutation(s, rows, cols, { n: 2, m: 4 }), NonFiniteError, /row 3, column 7/);
    await expect(riaChannelPermutation(s, rows, cols, { n: 4, m: 4 })).rejects.toThrow(/N:M/);
  });
});

describe('moving MLP channels leaves the logits unchanged', () => {
  const specs = [
    { label: 'llama (gate, up, down)', architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, seed: 3 },
    { label: 'llama, f16 weights', architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, seed: 4, dtype: 'f16' },
    { label: 'opt (fc1 and its bias, fc2)', architecture: 'opt', hidden: 16, heads: 4, intermediate: 40, seed: 5 },
    { label: 'gpt2 (fc1 and its bias, fc2)', architecture: 'gpt2', hidden: 16, heads: 4, intermediate: 40, seed: 6 },
  ] as const;

  test.each(specs)('$label', async ({ label: _label, ...spec }) => {
    const m = randomModel({ ...spec, layers: 2, vocab: 37 });
    const fm = new ForwardModel(m);
    const tokens = Int32Array.from({ length: 12 }, (_, i) => (i * 7) % 37);
    const before = await fm.logits(await fm.forward(tokens, 2, 6));
    const r = rng(9);
    const inter = m.config.intermediateSize;
    const changed: string[] = [];
    for (let b = 0; b < m.config.numLayers; b++) {
      const perm = Int32Array.from({ length: inter }, (_, j) => j);
      for (let j = inter - 1; j > 0; j--) {
        const k = Math.floor(r() * (j + 1));
        [perm[j], perm[k]] = [perm[k], perm[j]];
      }
      changed.push(...(await permuteMlpChannels(m.tensors, b, perm)));
    }
    const after = await fm.logits(await fm.forward(tokens, 2, 6));
    let diff = 0;
    for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i] - after[i]));
    expect(diff).toBeLessThanOrEqual(1e-5);
    const parts = [...new Set(changed.map((n) => n.replace(/^blocks\.\d+\./, '')))].sort();
    expect(parts).toEqual(spec.architecture === 'llama' ? ['mlp.down.weight', 'mlp.gate.weight', 'mlp.up.weight'] : ['mlp.fc1.bias', 'mlp.fc1.weight', 'mlp.fc2.weight']);
  });

  test('a repeated or out-of-range channel is refused before anything moves', async () => {
    const m = randomModel({ architecture: 'llama', hidden: 16, heads: 4, intermediate: 8, layers: 1, vocab: 37, seed: 1 });
    const down = m.tensors.get('blocks.0.mlp.down.weight')!.data.slice();
    await expect(permuteMlpChannels(m.tensors, 0, Int32Array.from([0, 1, 2, 3, 4, 5, 6, 6]))).rejects.toThrow(/not a permutation/);
    await expect(permuteMlpChannels(m.tensors, 0, Int32Array.from([0, 1, 2]))).rejects.toThrow(/columns/);
    expect(m.tensors.get('blocks.0.mlp.down.weight')!.data).toEqual(down);
  });
});

/** Same bits in every tensor of two loaded models. */
function sameTensors(a: LoadedModel, b: LoadedModel): string[] {
  const differ: string[] = [];
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    if (!u || !Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength))) differ.push(name);
  }
  return differ;
}

/** The report's note numbers: retained score in stored order, after the deal, selected. */
function retainedFromNotes(notes: string[]): { identity: number; heuristic: number; retained: number } {
  const line = notes.find((n) => n.startsWith('ria --permute: MLP channels reordered'));
  const hit = /retained score of the down projections (\S+) in stored order, (\S+) after the quantile deal, (\S+) selected/.exec(line ?? '');
  if (!hit) throw new Error(`no retained-score note in ${JSON.stringify(notes)}`);
  return { identity: Number(hit[1]), heuristic: Number(hit[2]), retained: Number(hit[3]) };
}

describe('prune --method ria on the tiny Llama', () => {
  let dir: string;
  let dense: string;
  let calib: string;
  beforeAll(() => {
    dir = tempDir('shears-ria-');
    dense = writeTinyModel(path.join(dir, 'dense'));
    calib = writeCalibTokens(path.join(dir, 'calib.json'), 512, 3);
  });
  const run = (out: string, extra: Record<string, unknown> = {}) => prune(tinyPrune(dense, calib, path.join(dir, out), { method: 'ria', ...extra }));

  test('50%: exactly half of every row of every linear layer, the same bits twice', async () => {
    await run('half-a');
    await run('half-b');
    const [a, b] = [await loadModel(path.join(dir, 'half-a')), await loadModel(path.join(dir, 'half-b'))];
    try {
      for (const name of linearNames()) {
        const t = a.tensors.get(name)!;
        expect({ name, zeros: zerosPerRow(t) }).toEqual({ name, zeros: Array(t.shape[0]).fill(Math.floor(t.shape[1] / 2)) });
      }
      expect(sameTensors(a, b)).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  }, 60_000);

  test('2:4: two zeros in every group of four; matrix and global granularity at the exact sparsity', async () => {
    await run('nm', { pattern: '2:4' });
    const matrix = await run('matrix', { granularity: 'matrix' });
    const global = await run('global', { granularity: 'global' });
    const m = await loadModel(path.join(dir, 'nm'));
    try {
      for (const name of linearNames()) expect({ name, min: minZerosPerGroup(m.tensors.get(name)!, 4), zeros: countZeros(m.tensors.get(name)!) }).toEqual({ name, min: 2, zeros: m.tensors.get(name)!.data.length / 2 });
    } finally {
      m.close();
    }
    for (const l of matrix.layers) expect(l.pruned).toBe(Math.floor(0.5 * l.shape[0] * l.shape[1]));
    for (let b = 0; b < 3; b++) {
      const block = global.layers.filter((l) => l.name.startsWith(`blocks.${b}.`));
      const total = block.reduce((a, l) => a + l.shape[0] * l.shape[1], 0);
      expect(block.reduce((a, l) => a + l.pruned, 0)).toBe(Math.floor(0.5 * total));
    }
    expect(global.notes.join('\n')).toMatch(/global: one threshold across the selected matrices of each block/);
  }, 60_000);

  test('--permute 2:4: the down projections are 2:4 in stored order, and the report gives the retained score, never below the stored order', async () => {
    const r = await run('permuted', { pattern: '2:4', permute: true });
    const m = await loadModel(path.join(dir, 'permuted'));
    try {
      for (const name of linearNames()) expect({ name, min: minZerosPerGroup(m.tensors.get(name)!, 4) }).toEqual({ name, min: 2 });
    } finally {
      m.close();
    }
    const kept = retainedFromNotes(r.notes);
    expect(kept.retained).toBeGreaterThanOrEqual(kept.identity);
    expect(r.notes.join('\n')).toMatch(/attn\.k, attn\.o, attn\.q, attn\.v, mlp\.gate, mlp\.up selected 2:4 in stored order/);
    expect(r.notes.join('\n')).toMatch(/ria --permute per matrix: blocks\.0\.mlp\.down\.weight [+-]?\d/);
  }, 60_000);

  test('--permute without --pattern, and --permute for another method, are refused before any work', async () => {
    const out = path.join(dir, 'refused');
    await rejectsWith(run('refused', { permute: true }), ArgumentRangeError, /--permute .* needs --pattern N:M/);
    const cli = await runCli(['prune', '--model', dense, '--method', 'ria', '--sparsity', '0.5', '--permute', '--calib-tokens', calib, '--out', out]);
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/^shears: --permute .* needs --pattern N:M/m);
    const other = await runCli(['prune', '--model', dense, '--method', 'wanda', '--pattern', '2:4', '--permute', '--calib-tokens', calib, '--out', out]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/--permute/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('ria --permute through the sequential pipeline (OPT in memory: fc1 and its bias, fc2)', () => {
  const spec = { architecture: 'opt', layers: 2, hidden: 16, heads: 4, intermediate: 48, vocab: 37, seed: 8 } as const;
  const asLoaded = (m: ReturnType<typeof randomModel>): LoadedModel => ({ format: 'hf', path: '/nonexistent', config: m.config, tensors: m.tensors, tokenizer: { kind: 'none', reason: 'test' }, meta: {}, close() {} });
  const calibration = (): CalibrationSet => {
    const r = rng(21);
    return { tokens: Int32Array.from({ length: 6 * 16 }, () => Math.floor(r() * spec.vocab)), samples: 6, seqLen: 16, sampling: 'contiguous', seed: 0, packed: false, notes: [] };
  };
  const pattern = { n: 2, m: 4 };
  const f32Of = (m: LoadedModel, name: string) => m.tensors.get(name)!.data as Float32Array;

  test('block 0: the channels move together, fc2 is 2:4 in stored order, and it keeps at least the score of the stored order', async () => {
    const dense = asLoaded(randomModel(spec));
    const plain = asLoaded(randomModel(spec));
    const moved = asLoaded(randomModel(spec));
    const include = ['blocks.0.**'];
    await runPipeline(plain, { strategy: ria(), pattern, calibration: calibration(), include });
    const r = await runPipeline(moved, { strategy: ria({ permute: true }), pattern, calibration: calibration(), include });

    // The permutation, read off fc1's bias (distinct random values) against the dense one.
    const bias = f32Of(dense, 'blocks.0.mlp.fc1.bias');
    const perm = Array.from(f32Of(moved, 'blocks.0.mlp.fc1.bias'), (v) => bias.indexOf(v));
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: 48 }, (_, j) => j));
    expect(perm).not.toEqual(Array.from({ length: 48 }, (_, j) => j));

    // Every other matrix as without --permute; fc1's rows are the plain run's, moved.
    for (const p of ['attn.q', 'attn.k', 'attn.v', 'attn.o']) expect(f32Of(moved, `blocks.0.${p}.weight`)).toEqual(f32Of(plain, `blocks.0.${p}.weight`));
    const fc1 = f32Of(moved, 'blocks.0.mlp.fc1.weight');
    const fc1Plain = f32Of(plain, 'blocks.0.mlp.fc1.weight');
    for (let k = 0; k < 48; k++) expect(fc1.subarray(k * 16, (k + 1) * 16)).toEqual(fc1Plain.subarray(perm[k] * 16, (perm[k] + 1) * 16));

    // fc2: 2:4 in stored order, its kept weights the dense ones at the moved columns.
    const fc2 = moved.tensors.get('blocks.0.mlp.fc2.weight')!;
    expect(minZerosPerGroup(fc2, 4)).toBe(2);
    const fc2Dense = f32Of(dense, 'blocks.0.mlp.fc2.weight');
    for (let i = 0; i < 16; i++) for (let k = 0; k < 48; k++) if (!isZero(fc2, i * 48 + k)) expect(fc2.data[i * 48 + k]).toBe(fc2Dense[i * 48 + perm[k]]);

    // The kept RIA score of fc2 (dense scores, fc2's input statistics of the dense block 0), with and without the move.
    const fm = new ForwardModel(dense);
    const stats = new ColumnStats(48);
    const cal = calibration();
    for (let q = 0; q < cal.samples; q++) {
      const hidden = await fm.embed(cal.tokens.subarray(q * 16, (q + 1) * 16), 1, 16);
      const caps = fm.allocCaptures(16, ['downIn']);
      await fm.runBlock(0, hidden, { batch: 1, seq: 16, capture: caps });
      await stats.add(caps.downIn!, 16);
    }
    const s = await riaScores(f32(fc2Dense, 16, 48), stats.l2Norms());
    const fc2Plain = plain.tensors.get('blocks.0.mlp.fc2.weight')!;
    let keptPlain = 0;
    let keptMoved = 0;
    for (let i = 0; i < 16; i++)
      for (let k = 0; k < 48; k++) {
        if (!isZero(fc2Plain, i * 48 + k)) keptPlain += s[i * 48 + k];
        if (!isZero(fc2, i * 48 + k)) keptMoved += s[i * 48 + perm[k]];
      }
    expect(keptMoved).toBeGreaterThan(keptPlain);
    const notes = retainedFromNotes(r.notes);
    // the report prints 6 significant digits
    expect(Math.abs(notes.identity - keptPlain) / keptPlain).toBeLessThan(1e-5);
    expect(Math.abs(notes.retained - keptMoved) / keptMoved).toBeLessThan(1e-5);
  });

  test('block 0 at 50%: per row, the floor(cols / 2) lowest reference scores pruned (ties: the lower column), from the dense block\'s inputs', async () => {
    const dense = asLoaded(randomModel(spec));
    const pruned = asLoaded(randomModel(spec));
    await runPipeline(pruned, { strategy: ria(), sparsity: 0.5, calibration: calibration(), include: ['blocks.0.**'] });
    const fm = new ForwardModel(dense);
    const cal = calibration();
    const sumSq: Record<string, Float64Array> = {};
    for (let q = 0; q < cal.samples; q++) {
      const caps = fm.allocCaptures(16);
      await fm.runBlock(0, await fm.embed(cal.tokens.subarray(q * 16, (q + 1) * 16), 1, 16), { batch: 1, seq: 16, capture: caps });
      for (const [k, x] of Object.entries(caps) as [string, Float32Array][]) {
        const acc = (sumSq[k] ??= new Float64Array(x.length / 16));
        x.forEach((v, i) => (acc[i % acc.length] += v * v));
      }
    }
    const input: Record<string, string> = { 'attn.q': 'attnIn', 'attn.k': 'attnIn', 'attn.v': 'attnIn', 'attn.o': 'oIn', 'mlp.fc1': 'mlpIn', 'mlp.fc2': 'downIn' };
    for (const [part, capture] of Object.entries(input)) {
      const name = `blocks.0.${part}.weight`;
      const [rows, cols] = dense.tensors.get(name)!.shape;
      const s = riaReference(f32Of(dense, name), rows, cols, Float32Array.from(sumSq[capture], Math.sqrt));
      const expected = new Set<number>();
      for (let i = 0; i < rows; i++) {
        const order = Array.from({ length: cols }, (_, j) => j).sort((a, b) => s[i * cols + a] - s[i * cols + b] || a - b);
        order.slice(0, Math.floor(cols / 2)).forEach((j) => expected.add(i * cols + j));
      }
      const zeros = new Set([...f32Of(pruned, name).keys()].filter((k) => f32Of(pruned, name)[k] === 0));
      expect({ name, differ: [...zeros].filter((k) => !expected.has(k)).length + [...expected].filter((k) => !zeros.has(k)).length }).toEqual({ name, differ: 0 });
    }
  });

  test("the next block is calibrated on the moved block's outputs: its masks are those of a run that starts from the moved block", async () => {
    const moved = asLoaded(randomModel(spec));
    await runPipeline(moved, { strategy: ria({ permute: true }), pattern, calibration: calibration() });
    // A fresh run of block 1 alone, on a model whose block 0 is the moved, pruned one.
    const start = asLoaded(randomModel(spec));
    for (const [name, t] of moved.tensors) if (name.startsWith('blocks.0.')) start.tensors.set(name, { ...t, data: t.data.slice() } as Tensor);
    await runPipeline(start, { strategy: ria({ permute: true }), pattern, calibration: calibration(), include: ['blocks.1.**'] });
    for (const name of [...moved.tensors.keys()].filter((n) => n.startsWith('blocks.1.')))
      expect({ name, same: Buffer.from((moved.tensors.get(name)!.data as Float32Array).buffer).equals(Buffer.from((start.tensors.get(name)!.data as Float32Array).buffer)) }).toEqual({ name, same: true });
  });
});

describe('prune --method ria on the demo model', () => {
  const model = path.join(ROOT, 'assets', 'demo-model');
  const calibText = path.join(model, 'calib.txt');
  let dir: string;
  beforeAll(() => {
    dir = tempDir('shears-ria-demo-');
  });
  const run = (out: string, extra: Record<string, unknown>) => prune({ model, method: 'ria', calib: calibText, calibSamples: 16, seqLen: 64, out: path.join(dir, out), ...extra });

  test('50%: exactly half of every row; 2:4 with --permute: every linear layer 2:4 in stored order', async () => {
    await run('half', { sparsity: 0.5 });
    const r = await run('nm', { pattern: '2:4', permute: true });
    const [half, nm] = [await loadModel(path.join(dir, 'half')), await loadModel(path.join(dir, 'nm'))];
    try {
      const names = [...half.tensors.keys()].filter((n) => /^blocks\.\d+\.(attn|mlp)\.[a-z]+\.weight$/.test(n));
      expect(names).toHaveLength(4 * 7);
      for (const name of names) {
        const t = half.tensors.get(name)!;
        expect({ name, zeros: new Set(zerosPerRow(t)) }).toEqual({ name, zeros: new Set([Math.floor(t.shape[1] / 2)]) });
        expect({ name, min: minZerosPerGroup(nm.tensors.get(name)!, 4), zeros: countZeros(nm.tensors.get(name)!) }).toEqual({ name, min: 2, zeros: t.data.length / 2 });
      }
    } finally {
      half.close();
      nm.close();
    }
    const kept = retainedFromNotes(r.notes);
    expect(kept.retained).toBeGreaterThanOrEqual(kept.identity);
  }, 120_000);
});
