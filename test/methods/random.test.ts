// The random baselines: `random` (a seeded uniform mask per row, matrix, globally or as a
// random N:M pattern) and `random-pattern` (N random of every M, --pattern required), on
// the tiny Llama and the demo model; their structured form removes random units.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { methodInfo } from '../../lib/methods/registry';
import { randomScores } from '../../lib/methods/random-scores';
import type { LoadedModel, Tensor } from '../../lib/model/types';
import { PruneGranularity, runPipeline } from '../../lib/prune/pipeline';
import { prune } from '../../lib/prune/run';
import { NMPattern } from '../../lib/kernels';
import { setPoolThreads } from '../../lib/kernels';
import { checkSweepOptions } from '../../lib/sweep/options';
import { runCli } from '../support/cli';
import { countZeros, isZero, tempDir, zerosPerRow } from '../prune/helpers';
import { linearNames, writeTinyModel } from '../prune/tiny';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
const dir = tempDir('shears-random-');
const TINY = writeTinyModel(path.join(dir, 'tiny'));

/** Prunes a fresh copy-on-write load of `model` in memory with `method`; returns it (close it). */
async function pruned(
  model: string,
  method: string,
  o: { seed?: number; sparsity?: number; pattern?: NMPattern; granularity?: PruneGranularity; plant?: (m: LoadedModel) => void },
): Promise<LoadedModel> {
  const m = await loadModel(model);
  o.plant?.(m);
  await runPipeline(m, { strategy: methodInfo(method).create!({ seed: o.seed ?? 0 }), sparsity: o.pattern ? undefined : o.sparsity, pattern: o.pattern, granularity: o.granularity });
  return m;
}

/** The zero bits of a matrix, one byte per weight. */
const zeroBits = (t: Tensor) => Uint8Array.from({ length: t.data.length }, (_, i) => (isZero(t, i) ? 1 : 0));
const sameBits = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

async function withModel<T>(p: Promise<LoadedModel>, fn: (m: LoadedModel) => T): Promise<T> {
  const m = await p;
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

describe('random: exact sparsity', () => {
  test('per row by default: floor(s * cols) zeros in every row of every matrix', async () => {
    await withModel(pruned(TINY, 'random', { sparsity: 0.5 }), (m) => {
      for (const name of linearNames()) {
        const t = m.tensors.get(name)!;
        expect(zerosPerRow(t)).toEqual(new Array(t.shape[0]).fill(Math.floor(0.5 * t.shape[1])));
      }
    });
  });

  test('per matrix: floor(s * rows * cols) zeros, spread unevenly over the rows', async () => {
    await withModel(pruned(DEMO, 'random', { sparsity: 0.3, granularity: 'matrix' }), (m) => {
      const t = m.tensors.get('blocks.1.mlp.up.weight')!;
      expect(countZeros(t)).toBe(Math.floor(0.3 * t.data.length));
      expect(new Set(zerosPerRow(t)).size).toBeGreaterThan(1);
    });
  });

  test('global: floor(s * total) zeros over all matrices together', async () => {
    await withModel(pruned(TINY, 'random', { sparsity: 0.4, granularity: 'global' }), (m) => {
      const ts = linearNames().map((n) => m.tensors.get(n)!);
      const total = ts.reduce((a, t) => a + t.data.length, 0);
      expect(ts.reduce((a, t) => a + countZeros(t), 0)).toBe(Math.floor(0.4 * total));
      // One uniform threshold: each matrix near 40%, not exactly (the per-matrix counts differ).
      const fractions = ts.map((t) => countZeros(t) / t.data.length);
      expect(new Set(fractions).size).toBeGreaterThan(1);
      for (const f of fractions) expect(Math.abs(f - 0.4)).toBeLessThan(0.15);
    });
  });

  test('--pattern 2:4: at most 2 nonzeros in every group of 4, exactly 2 zeros where the dense group had none (demo model)', async () => {
    const names = ['blocks.0.attn.q.weight', 'blocks.3.mlp.down.weight'];
    const dense = await withModel(loadModel(DEMO), (m) => names.map((n) => zeroBits(m.tensors.get(n)!)));
    await withModel(pruned(DEMO, 'random', { pattern: { n: 2, m: 4 } }), (m) =>
      names.forEach((name, k) => {
        const t = m.tensors.get(name)!;
        let bad = 0;
        for (let g = 0; g < t.data.length; g += 4) {
          const zeros = countZeros(t, g, g + 4);
          const full = dense[k][g] + dense[k][g + 1] + dense[k][g + 2] + dense[k][g + 3] === 0;
          if (zeros < 2 || (full && zeros !== 2)) bad++;
        }
        expect(bad).toBe(0);
      }),
    );
  });
});

describe('random: seeded', () => {
  test('the same seed gives the same bits, another seed others, and every matrix its own mask', async () => {
    const q = 'blocks.0.attn.q.weight';
    const a = await withModel(pruned(TINY, 'random', { sparsity: 0.5, seed: 7 }), (m) => [zeroBits(m.tensors.get(q)!), zeroBits(m.tensors.get('blocks.1.attn.q.weight')!)]);
    const b = await withModel(pruned(TINY, 'random', { sparsity: 0.5, seed: 7 }), (m) => zeroBits(m.tensors.get(q)!));
    const c = await withModel(pruned(TINY, 'random', { sparsity: 0.5, seed: 8 }), (m) => zeroBits(m.tensors.get(q)!));
    expect(sameBits(a[0], b)).toBe(true);
    expect(sameBits(a[0], c)).toBe(false);
    // Two matrices of the same shape in different blocks: different streams.
    expect(sameBits(a[0], a[1])).toBe(false);
  });

  test('the scores do not depend on the thread count', async () => {
    const one = (setPoolThreads(1), await randomScores(300, 700, 3, 'blocks.2.mlp.up.weight'));
    setPoolThreads(0);
    const many = await randomScores(300, 700, 3, 'blocks.2.mlp.up.weight');
    expect(Buffer.from(one.buffer).equals(Buffer.from(many.buffer))).toBe(true);
    expect(Math.min(...one.subarray(0, 10_000))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...one.subarray(0, 10_000))).toBeLessThan(1);
  });

  test('unbiased positions: pruned weights spread evenly over the columns and over the places in a group', async () => {
    // Per row at 50% on the demo model: the pruned fraction of each quarter of the columns
    // (7 x 4 blocks of matrices, ~1M weights) stays within 1% of 50%; a bias toward low
    // indices (a selection breaking ties by position) would show in the first quarter.
    await withModel(pruned(DEMO, 'random', { sparsity: 0.5 }), (m) => {
      const quarters = [0, 0, 0, 0];
      const totals = [0, 0, 0, 0];
      for (const name of linearNames(4)) {
        const t = m.tensors.get(name)!;
        const cols = t.shape[1];
        for (let i = 0; i < t.data.length; i++) {
          const q = Math.floor(((i % cols) * 4) / cols);
          totals[q]++;
          if (isZero(t, i)) quarters[q]++;
        }
      }
      for (let q = 0; q < 4; q++) expect(Math.abs(quarters[q] / totals[q] - 0.5)).toBeLessThan(0.01);
    });
    // 2:4: each of the 4 places of a group is pruned half of the time.
    await withModel(pruned(DEMO, 'random', { pattern: { n: 2, m: 4 } }), (m) => {
      const t = m.tensors.get('blocks.2.mlp.gate.weight')!;
      const place = [0, 0, 0, 0];
      for (let i = 0; i < t.data.length; i++) if (isZero(t, i)) place[i % 4]++;
      for (const p of place) expect(Math.abs(p / (t.data.length / 4) - 0.5)).toBeLessThan(0.01);
    });
  });
});

describe('random-pattern', () => {
  test('at most N nonzero of every M, exactly N where the group had no zero', async () => {
    const name = 'blocks.0.mlp.up.weight';
    // Zeros planted in the first group of each even row: those groups keep fewer than N nonzeros.
    const plant = (m: LoadedModel) => {
      const t = m.tensors.get(name)!;
      for (let r = 0; r < t.shape[0]; r += 2) t.data.fill(0, r * t.shape[1], r * t.shape[1] + 2);
    };
    for (const pattern of [
      { n: 2, m: 4 },
      { n: 1, m: 4 },
      { n: 3, m: 8 },
    ])
      await withModel(pruned(TINY, 'random-pattern', { pattern, seed: 5, plant }), (m) => {
        const t = m.tensors.get(name)!;
        const cols = t.shape[1];
        let short = 0;
        for (let r = 0; r < t.shape[0]; r++)
          for (let g = 0; g < cols; g += pattern.m) {
            const end = Math.min(g + pattern.m, cols);
            const nonzero = end - g - countZeros(t, r * cols + g, r * cols + end);
            const full = !(r % 2 === 0 && g === 0);
            if (full) expect(nonzero).toBe(Math.min(pattern.n, end - g));
            else {
              expect(nonzero).toBeLessThanOrEqual(pattern.n);
              if (nonzero < pattern.n) short++;
            }
          }
        // A planted zero was among the kept ones somewhere (N random of M includes them).
        expect(short).toBeGreaterThan(0);
      });
  });

  test('random-pattern and random --pattern draw the same masks from the same seed', async () => {
    const q = 'blocks.2.attn.v.weight';
    const a = await withModel(pruned(TINY, 'random-pattern', { pattern: { n: 2, m: 4 }, seed: 4 }), (m) => zeroBits(m.tensors.get(q)!));
    const b = await withModel(pruned(TINY, 'random', { pattern: { n: 2, m: 4 }, seed: 4 }), (m) => zeroBits(m.tensors.get(q)!));
    expect(sameBits(a, b)).toBe(true);
  });

  test('without --pattern: refused before any work, naming random', async () => {
    const out = path.join(dir, 'refused');
    await expect(prune({ model: TINY, method: 'random-pattern', sparsity: 0.5, out })).rejects.toThrow(/give --pattern N:M \(for an unstructured random mask use --method random\)/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('prune and the CLI', () => {
  test('shears prune --method random --sparsity 0.5 writes the masked model; --structure channels removes random units', async () => {
    const out = path.join(dir, 'cli-random');
    const r = await runCli(['prune', '--model', TINY, '--method', 'random', '--sparsity', '0.5', '--seed', '3', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method: 'random', pattern: 'unstructured', achieved_sparsity: 0.5 });
    await withModel(loadModel(out), (m) => expect(zerosPerRow(m.tensors.get('blocks.1.mlp.down.weight')!)).toEqual(new Array(16).fill(12)));

    // The structured form: random units, the same for random and random-pattern under one seed.
    const units = async (method: string) => {
      const o = path.join(dir, `units-${method}`);
      const rep = await prune({ model: DEMO, method, structure: 'channels', uniform: true, sparsity: 0.2, seed: 1, out: o });
      expect(rep.structured!.structure).toBe('channels');
      expect(Math.abs(rep.structured!.achieved_sparsity - 0.2)).toBeLessThan(0.02);
      return fs.readFileSync(path.join(o, 'model.safetensors'));
    };
    expect((await units('random')).equals(await units('random-pattern'))).toBe(true);
  });
});

describe('sweep cells', () => {
  const sweepOf = (methods: string[], patterns: string[], structure?: 'channels') =>
    checkSweepOptions({ model: DEMO, methods, patterns, levels: [0.2, 0.5], structure, eval: path.join(DEMO, 'eval.txt'), out: path.join(dir, 'sweep') });

  test('random-pattern gets the N:M cells only, random all of them; with --structure both remove units at the levels', () => {
    const cells = (r: ReturnType<typeof sweepOf>) => r.cells.map((c) => `${c.method} ${c.structure ?? c.pattern} ${c.level}`);
    expect(cells(sweepOf(['random', 'random-pattern'], ['unstructured', '2:4']))).toEqual(['random unstructured 0.2', 'random unstructured 0.5', 'random 2:4 0.5', 'random-pattern 2:4 0.5']);
    expect(cells(sweepOf(['random', 'random-pattern'], ['unstructured', '2:4'], 'channels'))).toEqual([
      'random channels 0.2',
      'random channels 0.5',
      'random-pattern channels 0.2',
      'random-pattern channels 0.5',
    ]);
  });

  test('random-pattern without an N:M pattern in the sweep: refused', () => {
    expect(() => sweepOf(['random-pattern', 'magnitude'], ['unstructured'])).toThrow(/random-pattern keeps N of every M weights: add an N:M pattern to --patterns/);
  });
});
