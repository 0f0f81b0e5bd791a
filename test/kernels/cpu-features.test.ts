// One CPU-feature cap governs every hand-vectorized kernel (core/cpu_features): under
// each level this CPU supports, selection, statistics, conversion, matmul, the
// Hessian, SparseGPT and the forward pass give the same bits as the portable loops,
// and the selection still equals the reference. SHEARS_CPU (and its deprecated
// aliases) set the cap at load.
import { execFileSync } from 'node:child_process';

import {
  ColumnStats,
  cpuFeatures,
  CpuLevel,
  HessianAccumulator,
  Matrix,
  pruneMatrix,
  selectMask,
  setCpuFeatures,
  setSimd,
  sparsegptPrune,
  toFloat32,
} from '../../lib';
import { ForwardModel, matmul } from '../../lib/forward';
import { addon } from '../../lib/native/binding';
import { randomModel } from '../forward/random-model';
import { correlatedX, randomF32 } from '../sparsegpt/helpers';
import { encode, maskToKeep, randomValues, refSelectRow, rng } from '../support/kernel-reference';

const levels = cpuFeatures().supported;
afterAll(() => setCpuFeatures('auto'));

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Everything the vectorized kernels compute, as bytes per named output. */
async function outputs(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  let seed = 77;
  // selection and the fused prune (AVX-512 BW paths), long rows aligned or not
  for (const cols of [2048, 2051, 4099])
    for (const kind of ['normal', 'ties'] as const)
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        const rows = 5;
        const values = randomValues(rows * cols, kind, rng(seed++));
        const w: Matrix = { data: encode(values, dtype), dtype, rows, cols };
        const mask = await pruneMatrix(w, {}, { sparsity: 0.6 });
        out[`prune ${cols} ${kind} ${dtype} mask`] = bytes(mask.bits);
        out[`prune ${cols} ${kind} ${dtype} W`] = bytes(w.data);
        const sel = await selectMask(values, rows, cols, { sparsity: 0.3 });
        expect(maskToKeep(sel.bits, rows * cols)).toEqual(refSelectRow(values, rows, cols, 0.3));
        out[`select ${cols} ${kind} ${dtype}`] = bytes(sel.bits);
      }
  // column statistics
  const stats = new ColumnStats(300, { threshold: 1.5 });
  await stats.add(randomF32(97 * 300, 5, 2), 97);
  out.statsSum = bytes(stats.sum);
  out.statsSumSq = bytes(stats.sumSq);
  out.statsExceed = bytes(stats.exceed!);
  // f16 -> f32 (F16C)
  out.f16 = bytes(await toFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i), 'f16'));
  // matmul, every weight dtype
  const x = randomF32(37 * 200, 6);
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    const w: Matrix = { data: encode(randomF32(130 * 200, 7), dtype), dtype, rows: 130, cols: 200 };
    out[`matmul ${dtype}`] = bytes(await matmul(x, w, { bias: randomF32(130, 8) }));
  }
  // Hessian (both precisions) and SparseGPT (its float64 gemm and Cholesky)
  const cols = 160;
  const act = correlatedX(300, cols, 9);
  for (const precision of ['f64', 'f32'] as const) {
    const h = new HessianAccumulator(cols, { precision });
    await h.add(act, 300);
    out[`hessian ${precision}`] = bytes(h.sum);
    const w: Matrix = { data: randomF32(96 * cols, 10), dtype: 'f32', rows: 96, cols };
    const m = await sparsegptPrune(w, h, { sparsity: 0.5, blockSize: 32 });
    out[`sparsegpt ${precision} W`] = bytes(w.data);
    out[`sparsegpt ${precision} mask`] = bytes(m.bits);
  }
  // the forward pass of a small Llama (f16 weights: F16C widening inside the matmul)
  const model = new ForwardModel(randomModel({ architecture: 'llama', hidden: 64, heads: 4, kvHeads: 2, intermediate: 176, dtype: 'f16', seed: 21 }));
  const tokens = Array.from({ length: 2 * 9 }, (_, i) => (i * 7) % 37);
  out.forward = bytes(await model.forward(tokens, 2, 9));
  return out;
}

test('the levels this CPU supports start with portable and include the active one', () => {
  const f = cpuFeatures();
  expect(f.supported[0]).toBe('portable');
  expect(f.supported).toContain(f.best);
  expect(f.supported[f.supported.length - 1]).toBe(f.best);
  if (f.best !== 'avx512') console.warn(`this CPU's best level is ${f.best}: the avx512 variants are not exercised here`);
});

test('every kernel gives the same bits under every supported level', async () => {
  const results: Partial<Record<CpuLevel, Record<string, Buffer>>> = {};
  for (const level of levels) {
    expect(setCpuFeatures(level).active).toBe(level);
    results[level] = await outputs();
  }
  const base = results.portable!;
  for (const level of levels) {
    const differ = Object.keys(base).filter((k) => !base[k].equals(results[level]![k]));
    expect({ level, differ }).toEqual({ level, differ: [] });
  }
}, 300000);

test('setSimd is a shorthand for the portable cap and back', () => {
  expect(setSimd(false)).toBe(false);
  expect(cpuFeatures().active).toBe('portable');
  expect(setSimd(true)).toBe(cpuFeatures().best !== 'portable');
  expect(cpuFeatures().active).toBe(cpuFeatures().best);
});

test('an unknown or unsupported level is a typed error and keeps the level', () => {
  setCpuFeatures('auto');
  expect(() => setCpuFeatures('sse9' as CpuLevel)).toThrow(expect.objectContaining({ code: 'E_RANGE', message: expect.stringMatching(/portable, avx2 or avx512/) }));
  if (!levels.includes('avx512'))
    expect(() => setCpuFeatures('avx512')).toThrow(expect.objectContaining({ code: 'E_BACKEND', message: expect.stringMatching(/does not support the avx512/) }));
  expect(cpuFeatures().active).toBe(cpuFeatures().best);
});

describe('the environment sets the cap at load', () => {
  const capVars = ['SHEARS_CPU', 'SHEARS_NO_SIMD', 'SHEARS_NO_AVX2', 'SHEARS_MATMUL_ISA'];
  // The parent's environment (LD_PRELOAD of an ASan run included) without its own cap.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !capVars.includes(k)));
  const activeWith = (env: Record<string, string>): string =>
    execFileSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(addon().path)}).cpuFeatures().active)`], {
      env: { ...inherited, ...env },
      encoding: 'utf8',
    });
  const best = cpuFeatures().best;

  test('SHEARS_CPU names the level; auto and an unknown value keep the best', () => {
    expect(activeWith({ SHEARS_CPU: 'portable' })).toBe('portable');
    expect(activeWith({ SHEARS_CPU: 'auto' })).toBe(best);
    expect(activeWith({ SHEARS_CPU: 'bogus' })).toBe(best);
    expect(activeWith({ SHEARS_CPU: 'avx512' })).toBe(levels.includes('avx512') ? 'avx512' : best);
  });

  test('the deprecated variables map to the same cap, and SHEARS_CPU wins', () => {
    expect(activeWith({ SHEARS_NO_SIMD: '1' })).toBe('portable');
    expect(activeWith({ SHEARS_NO_AVX2: '1' })).toBe('portable');
    expect(activeWith({ SHEARS_MATMUL_ISA: 'portable' })).toBe('portable');
    expect(activeWith({ SHEARS_CPU: 'auto', SHEARS_NO_SIMD: '1' })).toBe(best);
  });
});
