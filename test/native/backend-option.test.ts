// The `backend` option means the same for every native op: the pruning kernels, the
// column statistics, the Hessian, SparseGPT and the forward pass. 'auto' (also the
// default) and 'cpu' give the CPU's results here; 'cuda' without a usable device and
// an unknown name are BackendErrors naming the problem, before anything is modified.
import { backendsInfo, ColumnStats, HessianAccumulator, Matrix, pruneMatrix, sparsegptPrune } from '../../lib';
import { ForwardModel } from '../../lib/forward';
import { NativeBackend } from '../../lib/native/kernels';
import { randomModel } from '../forward/random-model';
import { correlatedX, randomF32 } from '../sparsegpt/helpers';

const cols = 48;
const x = correlatedX(120, cols, 31);
const weights = randomF32(40 * cols, 32);
const tokens = [1, 5, 9, 2, 7, 3];

/** Every op that takes the option, under one backend; outputs as bytes. */
async function runAll(backend: NativeBackend | undefined): Promise<Buffer[]> {
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const w: Matrix = { data: weights.slice(), dtype: 'f32', rows: 40, cols };
  const mask = await pruneMatrix(w, {}, { sparsity: 0.5, backend });
  const stats = new ColumnStats(cols);
  await stats.add(x, 120, { backend });
  const h = new HessianAccumulator(cols, { backend });
  await h.add(x, 120);
  const w2: Matrix = { data: weights.slice(), dtype: 'f32', rows: 40, cols };
  const m2 = await sparsegptPrune(w2, h, { sparsity: 0.5, blockSize: 16, backend });
  const model = new ForwardModel(randomModel({ architecture: 'llama', seed: 33 }), backend ? { backend } : {});
  const logits = await model.forward(tokens, 1, tokens.length);
  return [mask.bits, w.data, stats.sumSq, h.sum, m2.bits, w2.data, logits].map(bytes);
}

test("'auto', the default and 'cpu' agree on every op", async () => {
  const cpu = await runAll('cpu');
  if (!backendsInfo().cudaAvailable) {
    expect(await runAll('auto')).toEqual(cpu);
    expect(await runAll(undefined)).toEqual(cpu);
  }
  expect(cpu.every((b) => b.length > 0)).toBe(true);
});

const noDevice = backendsInfo().cudaAvailable ? test.skip : test;

noDevice("'cuda' without a device is a BackendError for every op, and nothing is modified", async () => {
  const expectBackendError = async (p: Promise<unknown>) =>
    expect(p).rejects.toMatchObject({ name: 'BackendError', message: expect.stringMatching(/CUDA backend unavailable/) });
  const w: Matrix = { data: weights.slice(), dtype: 'f32', rows: 40, cols };
  await expectBackendError(pruneMatrix(w, {}, { sparsity: 0.5, backend: 'cuda' }));
  const stats = new ColumnStats(cols);
  await expectBackendError(stats.add(x, 120, { backend: 'cuda' }));
  const h = new HessianAccumulator(cols, { backend: 'cuda' });
  await expectBackendError(h.add(x, 120));
  expect(h.count).toBe(0);
  expect(h.sum.every((v) => v === 0)).toBe(true);
  const ok = new HessianAccumulator(cols);
  await ok.add(x, 120);
  await expectBackendError(sparsegptPrune(w, ok, { sparsity: 0.5, blockSize: 16, backend: 'cuda' }));
  expect(Buffer.from(w.data.buffer).equals(Buffer.from(weights.buffer))).toBe(true);
  const model = new ForwardModel(randomModel({ architecture: 'llama', seed: 33 }), { backend: 'cuda' });
  await expectBackendError(model.forward(tokens, 1, tokens.length));
});

test('an unknown backend name is a BackendError naming the choices', async () => {
  const h = new HessianAccumulator(cols, { backend: 'tpu' as NativeBackend });
  await expect(h.add(x, 120)).rejects.toMatchObject({ name: 'BackendError', message: expect.stringMatching(/unknown backend 'tpu' \(expected auto, cpu or cuda\)/) });
  const w: Matrix = { data: weights.slice(), dtype: 'f32', rows: 40, cols };
  await expect(pruneMatrix(w, {}, { sparsity: 0.5, backend: 'tpu' as NativeBackend })).rejects.toMatchObject({ name: 'BackendError' });
});
