// The native thread pool can be resized while ops run on it: the ops finish with the
// same bits, and the resize neither blocks for the whole op nor crashes.
import { poolThreads, pruneMatrix, setPoolThreads } from '../../lib';
import { sparsegptNative } from '../../lib/native/sparsegpt';
import { rng } from '../support/random';

const defaultThreads = poolThreads();
afterAll(() => setPoolThreads(0));

function randomRows(rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: rows * cols }, () => r() * 2 - 1);
}

test('resizing during running ops is safe and the results do not change', async () => {
  const rows = 2048, cols = 384;
  const x = randomRows(rows, cols, 3);
  const w = randomRows(512, 1024, 4);
  const expectedSum = new Float64Array(cols * cols);
  await sparsegptNative().hessianAdd(x, rows, cols, expectedSum, { backend: 'cpu' });
  const expectedW = w.slice();
  const expectedMask = await pruneMatrix({ data: expectedW, dtype: 'f32', rows: 512, cols: 1024 }, {}, { sparsity: 0.5 });

  for (let round = 0; round < 3; ++round) {
    const sum = new Float64Array(cols * cols);
    const w2 = w.slice();
    let pending = 2;
    const ops = [
      sparsegptNative().hessianAdd(x, rows, cols, sum, { backend: 'cpu' }),
      pruneMatrix({ data: w2, dtype: 'f32', rows: 512, cols: 1024 }, {}, { sparsity: 0.5 }),
    ].map((p) => p.finally(() => --pending));
    // Resize on every turn of the event loop while the ops are in flight.
    const sizes = [1, 3, 2, 5, 1, 0];
    let resizesWhilePending = 0;
    for (let i = 0; pending > 0; ++i) {
      const n = sizes[i % sizes.length];
      expect(setPoolThreads(n)).toBe(n === 0 ? defaultThreads : n);
      if (pending > 0) resizesWhilePending++;
      await new Promise((r) => setImmediate(r));
    }
    const [, mask] = (await Promise.all(ops)) as [void, Awaited<ReturnType<typeof pruneMatrix>>];
    expect(resizesWhilePending).toBeGreaterThan(0);
    expect(Buffer.from(sum.buffer).equals(Buffer.from(expectedSum.buffer))).toBe(true);
    expect(Buffer.from(mask.bits).equals(Buffer.from(expectedMask.bits))).toBe(true);
    expect(Buffer.from(w2.buffer).equals(Buffer.from(expectedW.buffer))).toBe(true);
  }
});

test('a thread count out of range is a typed error and changes nothing', () => {
  setPoolThreads(2);
  expect(() => setPoolThreads(5000)).toThrow(expect.objectContaining({ name: 'ArgumentRangeError', message: expect.stringMatching(/\[0, 1024\]/) }));
  expect(() => setPoolThreads(1.5)).toThrow(expect.objectContaining({ name: 'ArgumentRangeError' }));
  expect(poolThreads()).toBe(2);
});
