import { matrix, pruneMatrix } from '../lib';

test('the addon loads and prunes a small matrix', async () => {
  const w = matrix(new Float32Array([1, -5, 3, 0.5, 2, 2, -2, 1]), 2, 4);
  const mask = await pruneMatrix(w, {}, { sparsity: 0.5 });
  expect(Array.from(w.data)).toEqual([0, -5, 3, 0, 0, 2, -2, 0]);
  expect(mask.pruned).toBe(4);
});
