// Every kernel of the CUDA backend against the CPU backend (the oracle), on fresh
// random inputs: masks, weights and scores must be bit-identical, column statistics
// equal within 1e-12 relative, errors the same codes and messages.
// Needs a CUDA device (skips with a message otherwise). SHEARS_CUDA_TEST_SELFCHECK=1
// runs the same comparisons with the CPU backend on both sides: a check of this
// harness on machines without a GPU, not of the CUDA kernels.
import { expectSameBits, expectWithinUlps, outcome } from './compare';
import { cudaModule, describeCudaDevice, hasCudaBuild } from './cuda-module';
import { bytes, cloneMat, floats, Kind, Mat, matrix, statistic } from './random';
import type { NativeSelection } from '../../lib/native/kernels';

const selfCheck = process.env.SHEARS_CUDA_TEST_SELFCHECK === '1';
const DEV = selfCheck ? ('cpu' as const) : ('cuda' as const);
const describeDev: jest.Describe = selfCheck && hasCudaBuild ? describe : describeCudaDevice();

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 7],
  [2, 3],
  [3, 5],
  [5, 33],
  [17, 256],
  [9, 1031],
  [64, 1000],
  [300, 67],
  [1, 9000],
];
const KINDS: Kind[] = ['normal', 'extreme', 'ties'];
const DTYPES: Mat['dtype'][] = ['f32', 'f16', 'bf16'];
// Exponents whose arithmetic is exact on both backends (bit-identical scores).
const EXACT_PQ: [number, number][] = [
  [1, 0],
  [1, 1],
  [2, 1],
  [1, 0.5],
  [0.5, 2],
];
const SELECTIONS: NativeSelection[] = [
  { sparsity: 0, granularity: 'row' },
  { sparsity: 0.1, granularity: 'row' },
  { sparsity: 0.5, granularity: 'row' },
  { sparsity: 1 / 3, granularity: 'row' },
  { sparsity: 0.999, granularity: 'row' },
  { sparsity: 0, granularity: 'matrix' },
  { sparsity: 0.5, granularity: 'matrix' },
  { sparsity: 0.7, granularity: 'matrix' },
  { sparsity: 0.999, granularity: 'matrix' },
  { sparsity: 0, granularity: 'row', n: 2, m: 4 },
  { sparsity: 0, granularity: 'row', n: 1, m: 3 },
  { sparsity: 0, granularity: 'row', n: 4, m: 8 },
  { sparsity: 0, granularity: 'row', n: 1, m: 2 },
  { sparsity: 0, granularity: 'row', n: 3, m: 32 },
];

let seed = 1;
const m = () => cudaModule();
const label = (sel: NativeSelection) => (sel.m ? `${sel.n}:${sel.m}` : `${sel.granularity} ${sel.sparsity.toFixed(3)}`);
const maskBytes = (rows: number, cols: number) => Math.ceil((rows * cols) / 8);

function maskPair(rows: number, cols: number) {
  const garbage = bytes(maskBytes(rows, cols), seed++); // padding bits must be left alone by both
  return [
    { bits: garbage.slice(), prunedPerRow: new Uint32Array(rows) },
    { bits: garbage.slice(), prunedPerRow: new Uint32Array(rows) },
  ];
}

function act(cols: number, q: number): Float32Array | undefined {
  return q === 0 && seed % 2 === 0 ? undefined : statistic(cols, seed++);
}

describeDev(`CUDA backend vs CPU backend (${selfCheck ? 'harness self-check: cpu vs cpu' : 'device'})`, () => {
  test('score: bit-identical for exact exponents, within 1 ulp for pow()', async () => {
    for (const [rows, cols] of SHAPES)
      for (const dtype of DTYPES)
        for (const kind of KINDS) {
          const w = matrix(rows, cols, dtype, kind, seed++);
          for (const [p, q] of [...EXACT_PQ, [1.5, 0.75]]) {
            const a = act(cols, q);
            const want = new Float32Array(rows * cols), got = new Float32Array(rows * cols);
            await m().score(w, { p, q, act: a, backend: 'cpu' }, want);
            await m().score(w, { p, q, act: a, backend: DEV }, got);
            const what = `score ${rows}x${cols} ${dtype} ${kind} p=${p} q=${q}`;
            if (p === 1.5) expectWithinUlps(got, want, 1, what);
            else expectSameBits(got, want, what);
          }
        }
  });

  test('select (row, matrix, N:M): bit-identical masks and pruned counts', async () => {
    for (const [rows, cols] of SHAPES)
      for (const kind of KINDS) {
        const scores = floats(rows * cols, kind, seed++);
        for (const sel of SELECTIONS) {
          const [mc, mg] = maskPair(rows, cols);
          const rc = await m().select(scores, rows, cols, sel, mc, { backend: 'cpu' });
          const rg = await m().select(scores, rows, cols, sel, mg, { backend: DEV });
          const what = `select ${rows}x${cols} ${kind} ${label(sel)}`;
          expectSameBits(mg.bits, mc.bits, `${what} bits`);
          expectSameBits(mg.prunedPerRow, mc.prunedPerRow, `${what} prunedPerRow`);
          expect(rg).toBe(rc);
        }
      }
  });

  test('selectGlobal: bit-identical masks across several matrices', async () => {
    const groups: [number, number][][] = [
      [[1, 1]],
      [
        [3, 5],
        [1, 1],
        [17, 256],
      ],
      [
        [64, 1000],
        [9, 1031],
        [2, 3],
      ],
      [
        [1, 9000],
        [300, 67],
      ],
    ];
    for (const shapes of groups)
      for (const kind of KINDS)
        for (const sparsity of [0, 0.25, 0.5, 0.9, 0.999]) {
          const scores = shapes.map(([r, c]) => floats(r * c, kind, seed++));
          const masks = shapes.map(([r, c]) => maskPair(r, c));
          const items = (side: 0 | 1) =>
            shapes.map(([rows, cols], i) => ({ scores: scores[i], rows, cols, mask: masks[i][side] }));
          const rc = await m().selectGlobal(items(0), sparsity, { backend: 'cpu' });
          const rg = await m().selectGlobal(items(1), sparsity, { backend: DEV });
          shapes.forEach(([r, c], i) => {
            const what = `selectGlobal item ${i} (${r}x${c}) ${kind} s=${sparsity}`;
            expectSameBits(masks[i][1].bits, masks[i][0].bits, `${what} bits`);
            expectSameBits(masks[i][1].prunedPerRow, masks[i][0].prunedPerRow, `${what} prunedPerRow`);
          });
          expect(rg).toEqual(rc);
        }
  });

  test('applyMask: bit-identical weights and counts in every dtype', async () => {
    for (const [rows, cols] of SHAPES)
      for (const dtype of DTYPES) {
        const wc = matrix(rows, cols, dtype, 'normal', seed++);
        const wg = cloneMat(wc);
        const bits = bytes(maskBytes(rows, cols), seed++);
        const pc = new Uint32Array(rows), pg = new Uint32Array(rows);
        const rc = await m().applyMask(wc, { bits, prunedPerRow: pc }, { backend: 'cpu' });
        const rg = await m().applyMask(wg, { bits, prunedPerRow: pg }, { backend: DEV });
        const what = `applyMask ${rows}x${cols} ${dtype}`;
        expectSameBits(wg.data, wc.data, `${what} weights`);
        expectSameBits(pg, pc, `${what} prunedPerRow`);
        expect(rg).toBe(rc);
      }
  });

  test('prune (fused): bit-identical weights, masks and counts', async () => {
    const sels = SELECTIONS.filter((_, i) => i % 2 === 0).concat([{ sparsity: 0.5, granularity: 'matrix' }]);
    for (const [rows, cols] of SHAPES)
      for (const dtype of DTYPES)
        for (const kind of KINDS)
          for (const [p, q] of [
            [1, 0],
            [1, 1],
            [2, 0.5],
          ]) {
            const w0 = matrix(rows, cols, dtype, kind, seed++);
            const a = act(cols, q);
            for (const sel of sels) {
              const wc = cloneMat(w0), wg = cloneMat(w0);
              const [mc, mg] = maskPair(rows, cols);
              const rc = await m().prune(wc, { p, q, act: a }, sel, mc, { backend: 'cpu' });
              const rg = await m().prune(wg, { p, q, act: a }, sel, mg, { backend: DEV });
              const what = `prune ${rows}x${cols} ${dtype} ${kind} p=${p} q=${q} ${label(sel)}`;
              expectSameBits(wg.data, wc.data, `${what} weights`);
              expectSameBits(mg.bits, mc.bits, `${what} bits`);
              expectSameBits(mg.prunedPerRow, mc.prunedPerRow, `${what} prunedPerRow`);
              expect(rg).toBe(rc);
            }
          }
  });

  test('columnStats: sums within 1e-12 relative, exceed counts exact', async () => {
    const shapes: [number, number][] = [[0, 5], [1, 1], [7, 3], [100, 257], [513, 64], [2, 5000]];
    for (const [rows, cols] of shapes)
      for (const kind of ['normal', 'extreme'] as Kind[])
        for (const withExceed of [true, false]) {
          const x = floats(rows * cols, kind, seed++);
          const init = floats(cols * 3, 'normal', seed++);
          const acc = () => ({
            sum: Float64Array.from(init.subarray(0, cols)),
            sumSq: Float64Array.from(init.subarray(cols, 2 * cols), Math.abs),
            exceed: withExceed ? new Float64Array(cols) : undefined,
            threshold: 1.0,
          });
          const ac = acc(), ag = acc();
          await m().columnStats(x, rows, cols, { ...ac, backend: 'cpu' });
          await m().columnStats(x, rows, cols, { ...ag, backend: DEV });
          const what = `columnStats ${rows}x${cols} ${kind}`;
          for (const key of ['sum', 'sumSq'] as const)
            for (let j = 0; j < cols; j++) {
              const g = ag[key][j], c = ac[key][j];
              if (!(Math.abs(g - c) <= 1e-12 * Math.max(Math.abs(g), Math.abs(c))))
                throw new Error(`${what} ${key}[${j}]: cuda ${g} vs cpu ${c}`);
            }
          if (withExceed) expectSameBits(ag.exceed!, ac.exceed!, `${what} exceed`);
        }
  });

  test('errors: same codes and messages; W untouched after a failed prune', async () => {
    const nanOf = { f32: NaN, f16: 0x7e00, bf16: 0x7fc0 };
    const infOf = { f32: -Infinity, f16: 0xfc00, bf16: 0x7f80 };
    const same = async (what: string, run: (backend: 'cpu' | 'cuda') => Promise<unknown>) => {
      const c = await outcome(() => run('cpu'));
      const g = await outcome(() => run(DEV));
      expect({ what, ...c }).toEqual({ what, ...g });
      expect(c.ok).toBe(false);
    };
    for (const [rows, cols] of [
      [1, 1],
      [5, 33],
      [64, 1000],
    ])
      for (const dtype of DTYPES)
        for (const bad of [nanOf, infOf]) {
          const w0 = matrix(rows, cols, dtype, 'normal', seed++);
          const at = Math.floor((rows * cols * 2) / 3);
          w0.data[at] = bad[dtype];
          await same(`score ${dtype}`, (backend) =>
            m().score(cloneMat(w0), { p: 1, q: 0, backend }, new Float32Array(rows * cols)),
          );
          for (const sel of [SELECTIONS[2], SELECTIONS[6], SELECTIONS[9]]) {
            const wg = cloneMat(w0);
            await same(`prune ${dtype} ${label(sel)}`, (backend) =>
              m().prune(backend === DEV ? wg : cloneMat(w0), { p: 1, q: 0 }, sel, maskPair(rows, cols)[0], { backend }),
            );
            expectSameBits(wg.data, w0.data, `W after a failed prune (${dtype} ${label(sel)})`);
          }
          const scores = floats(rows * cols, 'normal', seed++);
          scores[at] = NaN;
          for (const sel of [SELECTIONS[2], SELECTIONS[6], SELECTIONS[9]])
            await same(`select NaN ${label(sel)}`, (backend) =>
              m().select(scores, rows, cols, sel, maskPair(rows, cols)[0], { backend }),
            );
          const ok = floats(6, 'normal', seed++);
          await same('selectGlobal NaN in the second item', (backend) =>
            m().selectGlobal(
              [
                { scores: ok, rows: 2, cols: 3, mask: { bits: new Uint8Array(1) } },
                { scores, rows, cols, mask: { bits: new Uint8Array(maskBytes(rows, cols)) } },
              ],
              0.5,
              { backend },
            ),
          );
          const x = floats(rows * cols, 'normal', seed++);
          x[at] = Infinity;
          await same('columnStats Inf', (backend) =>
            m().columnStats(x, rows, cols, { sum: new Float64Array(cols), sumSq: new Float64Array(cols), backend }),
          );
        }
    const w = matrix(3, 4, 'f32', 'normal', seed++);
    await same('negative statistic', (backend) =>
      m().prune(cloneMat(w), { p: 1, q: 1, act: new Float32Array([1, -1, 1, 1]) }, SELECTIONS[2], maskPair(3, 4)[0], {
        backend,
      }),
    );
    await same('sparsity 1', (backend) =>
      m().prune(cloneMat(w), { p: 1, q: 0 }, { sparsity: 1, granularity: 'row' }, maskPair(3, 4)[0], { backend }),
    );
    await same('pattern 4:4', (backend) =>
      m().select(floats(12, 'normal', 1), 3, 4, { sparsity: 0, granularity: 'row', n: 4, m: 4 }, maskPair(3, 4)[0], {
        backend,
      }),
    );
  });
});
