// kmeans (Deep Compression's weight sharing): the native 1-D k-means against a plain
// TypeScript Lloyd's iteration from the same linear initialization, at most 2^b values per
// matrix (f32 and f16), pruned weights untouched, the objective no worse than the linear
// initialization, the relative-index count; then prune --method kmeans end to end on the
// tiny Llama: exact sparsity, N:M, the same masks as its base in the first block, the same
// bytes on a second run, the notes, and refusals before any work.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { fromFloat32, poolThreads, setPoolThreads, toFloat32 } from '../../lib/kernels';
import { clusterKept, compressedSize } from '../../lib/methods/kmeans-cluster';
import { PruneReport } from '../../lib/prune/report';
import { prune } from '../../lib/prune/run';
import { sweep } from '../../lib/sweep/run';
import { emptyMask, Mask } from '../../lib/tensor';
import { Tensor } from '../../lib/model/types';
import { runCli } from '../support/cli';
import { rng } from '../support/random';
import { isZero, tempDir } from '../prune/helpers';
import { linearNames, tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

/** A random keep-mask over n weights (about `keep` of them kept). */
function randomMask(rows: number, cols: number, keep: number, seed: number): Mask {
  const r = rng(seed);
  const m = emptyMask(rows, cols);
  m.bits.fill(0);
  for (let i = 0; i < rows * cols; i++) if (r() < keep) m.bits[i >> 3] |= 1 << (i & 7);
  return m;
}
const kept = (m: Mask, i: number) => ((m.bits[i >> 3] >> (i & 7)) & 1) === 1;

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  // A heavy tail, as trained weights have: a few large values stretch the linear initialization.
  return Float32Array.from({ length: rows * cols }, () => Math.fround((r() - 0.5) * (r() < 0.05 ? 2 : 0.2)));
}

/** Plain Lloyd's iteration in one dimension: nearest centroid (ties to the lower), means, until nothing moves. */
function referenceKmeans(values: number[], k: number): { centroids: number[]; sseInitial: number; sseFinal: number } {
  const lo = values.reduce((a, x) => Math.min(a, x), Infinity);
  const hi = values.reduce((a, x) => Math.max(a, x), -Infinity);
  const c = Array.from({ length: k }, (_, i) => lo + ((hi - lo) * i) / (k - 1));
  const nearest = (x: number) => {
    let best = 0;
    for (let i = 1; i < k; i++) if (Math.abs(x - c[i]) < Math.abs(x - c[best])) best = i;
    return best;
  };
  const sse = (a: number[]) => values.reduce((s, x, j) => s + (x - c[a[j]]) ** 2, 0);
  let assignment = values.map(nearest);
  const sseInitial = sse(assignment);
  for (let it = 0; it < 1000; it++) {
    const sum = new Array<number>(k).fill(0);
    const count = new Array<number>(k).fill(0);
    values.forEach((x, j) => {
      sum[assignment[j]] += x;
      count[assignment[j]]++;
    });
    for (let i = 0; i < k; i++) if (count[i] > 0) c[i] = sum[i] / count[i];
    const next = values.map(nearest);
    const same = next.every((a, j) => a === assignment[j]);
    assignment = next;
    if (same) break;
  }
  return { centroids: c, sseInitial, sseFinal: sse(assignment) };
}

/** Distinct values of a matrix's non-zero weights (bits for f16/bf16). */
const distinctNonZero = (t: Tensor) => new Set(Array.from(t.data).filter((_, i) => !isZero(t, i))).size;

describe('clusterKept (native 1-D k-means)', () => {
  const rows = 12;
  const cols = 40;

  it.each([1, 2, 3, 4])('matches a plain TypeScript Lloyd iteration from the linear initialization (bits %i)', async (bits) => {
    for (const seed of [1, 2, 3]) {
      const data = randomMatrix(rows, cols, seed);
      const mask = randomMask(rows, cols, 0.6, seed + 10);
      const before = Float32Array.from(data);
      const values = Array.from(before).filter((_, i) => kept(mask, i));
      const ref = referenceKmeans(values, 2 ** bits);
      const c = await clusterKept({ data, dtype: 'f32', rows, cols }, mask, { bits });
      expect(c.kept).toBe(values.length);
      expect(c.converged).toBe(true);
      Array.from(c.centroids).forEach((x, i) => expect(x).toBeCloseTo(ref.centroids[i], 12));
      expect(c.sseInitial).toBeCloseTo(ref.sseInitial, 12);
      expect(c.sseFinal).toBeCloseTo(ref.sseFinal, 12);
      expect(c.sseFinal).toBeLessThanOrEqual(c.sseInitial);
      // Every kept weight now holds its nearest final centroid (as float32); pruned ones are untouched.
      for (let i = 0; i < data.length; i++) {
        if (!kept(mask, i)) expect(data[i]).toBe(before[i]);
        else {
          const nearest = ref.centroids.reduce((b, x, j) => (Math.abs(before[i] - x) < Math.abs(before[i] - ref.centroids[b]) ? j : b), 0);
          expect(data[i]).toBe(Math.fround(c.centroids[nearest]));
        }
      }
      const written = Array.from(data).filter((_, i) => kept(mask, i));
      expect(new Set(written).size).toBeLessThanOrEqual(2 ** bits);
      expect(c.sseWritten).toBeCloseTo(values.reduce((s, x, j) => s + (x - written[j]) ** 2, 0), 12);
      expect(Array.from(c.counts).reduce((a, b) => a + b, 0)).toBe(values.length);
    }
  });

  it('rounds the centroids to f16: at most 2^b values, and the error of what was written', async () => {
    const bits = 3;
    const f32 = randomMatrix(rows, cols, 7);
    const data = (await fromFloat32(f32, 'f16')) as Uint16Array;
    const before = await toFloat32(data, 'f16');
    const mask = randomMask(rows, cols, 0.5, 8);
    const c = await clusterKept({ data, dtype: 'f16', rows, cols }, mask, { bits });
    const after = await toFloat32(data, 'f16');
    const keptBits = Array.from(data).filter((_, i) => kept(mask, i));
    expect(new Set(keptBits).size).toBeLessThanOrEqual(2 ** bits);
    const values = new Set(Array.from(c.written).filter((_, i) => c.counts[i] > 0));
    for (let i = 0; i < data.length; i++) if (kept(mask, i)) expect(values.has(after[i])).toBe(true);
    let sse = 0;
    for (let i = 0; i < data.length; i++) if (kept(mask, i)) sse += (before[i] - after[i]) ** 2;
    else expect(after[i]).toBe(before[i]);
    expect(c.sseWritten).toBeCloseTo(sse, 12);
  });

  it('gives the same bits twice, and counts relative-index fillers as Deep Compression stores them', async () => {
    const a = randomMatrix(rows, cols, 4);
    const b = Float32Array.from(a);
    const mask = randomMask(rows, cols, 0.1, 5);
    const ca = await clusterKept({ data: a, dtype: 'f32', rows, cols }, mask, { bits: 2, indexBits: 3 });
    await clusterKept({ data: b, dtype: 'f32', rows, cols }, mask, { bits: 2, indexBits: 3 });
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    // Distances of at most 2^3 = 8 positions; longer gaps take fillers.
    let entries = 0;
    let previous = -1;
    for (let i = 0; i < rows * cols; i++)
      if (kept(mask, i)) {
        entries += 1 + Math.max(0, Math.ceil((i - previous) / 8) - 1);
        previous = i;
      }
    expect(ca.relativeEntries).toBe(entries);
    const size = compressedSize(ca, rows, cols, 4);
    expect(size.dense).toBe(rows * cols * 4);
    expect(size.compressed).toBe(Math.min(Math.ceil((rows * cols + ca.kept * 2) / 8), Math.ceil((entries * 5) / 8)) + 4 * 4);
  });

  it('gives the same bits for any thread count (a matrix large enough for the parallel sort)', async () => {
    const [r, c] = [300, 500];
    const mask = randomMask(r, c, 0.6, 21);
    const results: Float32Array[] = [];
    const before = poolThreads();
    try {
      for (const threads of [1, 3]) {
        setPoolThreads(threads);
        const data = randomMatrix(r, c, 20);
        const out = await clusterKept({ data, dtype: 'f32', rows: r, cols: c }, mask, { bits: 4 });
        expect(out.kept).toBeGreaterThan(1 << 16);
        results.push(data);
      }
    } finally {
      setPoolThreads(before);
    }
    expect(Buffer.from(results[1].buffer).equals(Buffer.from(results[0].buffer))).toBe(true);
    // The merged sort gives the plain reference's centroids too (2 bits: the reference is slow).
    const data = randomMatrix(r, c, 20);
    const values = Array.from(data).filter((_, i) => kept(mask, i));
    const two = await clusterKept({ data, dtype: 'f32', rows: r, cols: c }, mask, { bits: 2 });
    const ref = referenceKmeans(values, 4);
    Array.from(two.centroids).forEach((x, i) => expect(x).toBeCloseTo(ref.centroids[i], 10));
  }, 60_000);

  it('sizes a matrix with every weight kept as its indices and codebook alone', async () => {
    const c = await clusterKept({ data: randomMatrix(4, 16, 3), dtype: 'f32', rows: 4, cols: 16 }, randomMask(4, 16, 1, 1), { bits: 3 });
    expect(c.kept).toBe(64);
    expect(compressedSize(c, 4, 16, 2)).toEqual({ dense: 128, compressed: (64 * 3) / 8 + 8 * 2, form: 'none' });
  });

  it('refuses bits outside [1, 8] and a non-finite kept weight, leaving the matrix as it was', async () => {
    const data = randomMatrix(2, 8, 1);
    const mask = randomMask(2, 8, 1, 1);
    await expect(clusterKept({ data, dtype: 'f32', rows: 2, cols: 8 }, mask, { bits: 9 })).rejects.toThrow(ArgumentRangeError);
    data[3] = NaN;
    const before = Float32Array.from(data);
    await expect(clusterKept({ data, dtype: 'f32', rows: 2, cols: 8 }, mask, { bits: 2 })).rejects.toMatchObject({ code: 'E_NONFINITE' });
    expect(Array.from(data).map(String)).toEqual(Array.from(before).map(String));
  });

  it('handles a matrix with nothing kept and one with a single kept value', async () => {
    const data = randomMatrix(2, 8, 2);
    const none = await clusterKept({ data, dtype: 'f32', rows: 2, cols: 8 }, randomMask(2, 8, 0, 1), { bits: 4 });
    expect(none).toMatchObject({ kept: 0, sseWritten: 0 });
    const one = emptyMask(2, 8);
    one.bits.fill(0);
    one.bits[0] = 1;
    const c = await clusterKept({ data, dtype: 'f32', rows: 2, cols: 8 }, one, { bits: 4 });
    expect(c.kept).toBe(1);
    expect(c.sseWritten).toBe(0);
  });
});

describe('prune --method kmeans', () => {
  let dir: string;
  let calib: string;
  let f32: string;
  let f16: string;
  beforeAll(() => {
    dir = tempDir('shears-kmeans-');
    f32 = writeTinyModel(path.join(dir, 'dense'));
    f16 = writeTinyModel(path.join(dir, 'dense-f16'), 'F16');
    calib = writeCalibTokens(path.join(dir, 'calib.json'), 2048, 5);
  });
  const run = (model: string, out: string, extra: Record<string, unknown> = {}) =>
    prune(tinyPrune(model, calib, path.join(dir, out), { method: 'kmeans', ...extra }));

  async function check(out: string, bits: number, perRowZeros: (cols: number) => number, dtype = 'f32'): Promise<void> {
    const m = await loadModel(path.join(dir, out));
    try {
      for (const name of linearNames()) {
        const t = m.tensors.get(name)!;
        const [rows, cols] = t.shape;
        expect(t.dtype).toBe(dtype);
        expect(distinctNonZero(t)).toBeLessThanOrEqual(2 ** bits);
        expect(distinctNonZero(t)).toBeGreaterThan(1);
        for (let r = 0; r < rows; r++) {
          let z = 0;
          for (let j = 0; j < cols; j++) z += isZero(t, r * cols + j) ? 1 : 0;
          expect(z).toBe(perRowZeros(cols));
        }
      }
    } finally {
      m.close();
    }
  }

  it.each([
    ['f32', 4],
    ['f32', 2],
    ['f16', 4],
    ['f16', 1],
  ] as const)('%s model, %i bits: at most 2^b values per matrix, exact sparsity, the notes', async (dtype, bits) => {
    const out = `kmeans-${dtype}-${bits}`;
    const report: PruneReport = await run(dtype === 'f32' ? f32 : f16, out, { bits });
    expect(report.achieved_sparsity).toBe(0.5);
    await check(out, bits, (cols) => Math.floor(cols / 2), dtype);
    const notes = report.notes.join('\n');
    expect(notes).toMatch(new RegExp(`kmeans \\(--base wanda, --bits ${bits}\\): 21 matrices`));
    expect(notes).toMatch(/mean squared clustering error \S+ \(linear initialization: \S+\)/);
    expect(notes).toMatch(/codebook \+ index form: [\d.]+ MiB against [\d.]+ MiB dense/);
  }, 60_000);

  it('keeps the masks of its base in the first block (the later blocks see the clustered outputs), the same bytes twice', async () => {
    await run(f32, 'a', { bits: 3 });
    await run(f32, 'b', { bits: 3 });
    await prune(tinyPrune(f32, calib, path.join(dir, 'wanda')));
    const read = (d: string) => fs.readFileSync(path.join(dir, d, 'model.safetensors'));
    expect(read('a').equals(read('b'))).toBe(true);
    const [k, w] = [await loadModel(path.join(dir, 'a')), await loadModel(path.join(dir, 'wanda'))];
    try {
      for (const name of linearNames().filter((n) => n.startsWith('blocks.0.'))) {
        const a = k.tensors.get(name)!;
        const b = w.tensors.get(name)!;
        for (let i = 0; i < a.data.length; i++) expect(isZero(a, i)).toBe(isZero(b, i));
      }
    } finally {
      k.close();
      w.close();
    }
  }, 60_000);

  it.each(['magnitude', 'sparsegpt'])('--base %s, and 2:4', async (base) => {
    const out = `kmeans-${base}-24`;
    const report = await run(f32, out, { base, bits: 2, sparsity: undefined, pattern: '2:4' });
    expect(report.achieved_sparsity).toBe(0.5);
    await check(out, 2, (cols) => cols / 2);
    expect(report.notes.join('\n')).toContain(`kmeans (--base ${base}, --bits 2)`);
  }, 60_000);

  it('the CLI: --base and --bits, and a bad --bits exits 1 naming it with nothing written', async () => {
    const base = ['prune', '--model', f32, '--method', 'kmeans', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16'];
    const ok = await runCli([...base, '--base', 'magnitude', '--granularity', 'row', '--bits', '3', '--out', path.join(dir, 'cli')]);
    expect(ok.code).toBe(0);
    await check('cli', 3, (cols) => Math.floor(cols / 2));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'cli', 'prune-report.json'), 'utf8')) as PruneReport;
    expect(report.notes.join('\n')).toContain('kmeans (--base magnitude, --bits 3)');
    const bad = await runCli([...base, '--bits', '9', '--out', path.join(dir, 'cli-bad')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--bits must be an integer in \[1, 8\]/);
    expect(fs.existsSync(path.join(dir, 'cli-bad'))).toBe(false);
  }, 60_000);

  it('a sweep passes --bits and its cells carry the notes', async () => {
    const evalTokens = writeCalibTokens(path.join(dir, 'eval.json'), 256, 9);
    const { results } = await sweep({ model: f32, methods: ['kmeans'], levels: [0.5], patterns: ['unstructured'], bits: 2, calibTokens: calib, calibSamples: 4, seqLen: 16, evalTokens, evalSeqLen: 16, out: path.join(dir, 'sweep') });
    const cell = results.cells.find((c) => c.method === 'kmeans')!;
    expect(cell.status).toBe('ok');
    expect(JSON.stringify(cell)).toContain('kmeans (--base wanda, --bits 2)');
  }, 60_000);

  it('refuses bad options before any work', async () => {
    await expect(run(f32, 'bad-bits', { bits: 0 })).rejects.toThrow(/--bits must be an integer in \[1, 8\]/);
    await expect(run(f32, 'bad-bits', { bits: 2.5 })).rejects.toThrow(ArgumentRangeError);
    await expect(run(f32, 'bad-base', { base: 'owl' })).rejects.toThrow(/--base for kmeans must be one of wanda, magnitude, sparsegpt/);
    await expect(run(f32, 'global', { granularity: 'global' })).rejects.toThrow(/global granularity does not apply/);
    await expect(prune(tinyPrune(f32, calib, path.join(dir, 'wanda-bits'), { bits: 4 }))).rejects.toThrow(/--bits \(kmeans\) applies to other methods, not to wanda/);
    for (const d of ['bad-bits', 'bad-base', 'global', 'wanda-bits']) expect(fs.existsSync(path.join(dir, d))).toBe(false);
  });
});
