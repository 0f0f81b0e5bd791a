// What `shears paper` asks of a sweep: each cell's nonzero parameters and (with speed)
// its tokens/s beside the dense model's, and masking methods with a structured form
// (query-aware) removing units when the sweep gives --structure, learning afterwards as
// prune does.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { selectLayers } from '../../lib/prune/layers';
import { sweep } from '../../lib/sweep/run';
import { writeTinyDense } from '../queries/tiny-text-model';

const DEMO = path.join(__dirname, '..', '..', 'assets', 'demo-model');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sweep-speed-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('speed: tokens/s of the dense model and of each cell, measured in the run; nonzero parameters counted', async () => {
  const evalText = path.join(dir, 'eval-head.txt');
  fs.writeFileSync(evalText, fs.readFileSync(path.join(DEMO, 'eval.txt'), 'utf8').slice(0, 20_000));
  const { results } = await sweep({ model: DEMO, methods: ['magnitude'], levels: [0.5], eval: evalText, maxWindows: 2, speed: true, out: path.join(dir, 'speed') });
  const cell = results.cells[0];
  for (const x of [results.dense, cell]) {
    expect(x.prefill_tokens_per_second as number).toBeGreaterThan(0);
    expect(x.decode_tokens_per_second as number).toBeGreaterThan(0);
  }
  const model = await loadModel(DEMO);
  try {
    const all = [...model.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    // magnitude prunes floor(n / 2) of each matrix (per-matrix selection).
    const pruned = selectLayers(model.config, model.tensors).blocks.flat().reduce((n, l) => {
      const [r, c] = model.tensors.get(l.name)!.shape;
      return n + Math.floor((r * c) / 2);
    }, 0);
    expect(cell.parameters_before).toBe(all);
    expect(results.dense.parameters).toBe(all);
    expect(cell.parameters_nonzero).toBe(all - pruned);
  } finally {
    model.close();
  }
  // Without --speed nothing is timed.
  const plain = await sweep({ model: DEMO, methods: ['magnitude'], levels: [0.5], eval: evalText, maxWindows: 2, out: path.join(dir, 'plain') });
  expect(plain.results.cells[0].prefill_tokens_per_second).toBeUndefined();
}, 120_000);

test("--structure: query-aware's structured form removes units on the environment, then distills", async () => {
  const dense = writeTinyDense(path.join(dir, 'dense'));
  const queries = path.join(dir, 'queries.txt');
  fs.writeFileSync(queries, 'the cat sat on the mat\nthe dog ran in the park\na bird sang in the tree\n');
  const evalText = path.join(dir, 'eval.txt');
  fs.writeFileSync(evalText, 'the cat ran in the tree and the dog sat on the mat. '.repeat(20));
  const { results } = await sweep({ model: dense, methods: ['query-aware'], structure: 'channels', levels: [0.2], calib: queries, calibSamples: 4, seqLen: 16, eval: evalText, evalSeqLen: 16, out: path.join(dir, 'qa-structured') });
  const cell = results.cells[0];
  expect(cell).toMatchObject({ status: 'ok', structure: 'channels' });
  expect(cell.parameters as number).toBeLessThan(cell.parameters_before as number);
  expect((cell.notes as string[]).join(' ')).toMatch(/distilled on the query environment of --calib: 100 steps/);
}, 120_000);
