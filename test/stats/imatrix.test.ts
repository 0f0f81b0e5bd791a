// llama.cpp's imatrix forms: shears' writers round-trip the sums of squares and counts
// (GGUF: sums and token counts as float32; legacy: the mean of x^2 and ncall = chunks,
// the token count not being in that format), and imatrix files built by hand in
// llama.cpp's layout (not by shears' writers) drive wanda: the same masks as the same
// statistics in memory, an output.weight entry (llama-imatrix --process-output) ignored.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../../lib/calibration/sample';
import { ImatrixOut } from '../../lib/formats/imatrix';
import { encodeImatrixDat, readImatrixDat } from '../../lib/formats/imatrix-dat';
import { readImatrixGGUF, writeImatrixGGUF } from '../../lib/formats/imatrix-gguf';
import { prune } from '../../lib/prune/run';
import { DenseStats } from '../../lib/sweep/stats-once';
import { tempDir } from '../prune/helpers';
import { tinyCalibrated } from '../prune/tiny';
import { handDat, handGGUF, inMemoryWanda, llamaCppEntries, masksOf, withModel } from './helpers';

let dir: string;
let model: string;
let calibration: () => CalibrationSet;
let memory: { stats: DenseStats; masks: Map<string, string> };

beforeAll(async () => {
  dir = tempDir('shears-imatrix-');
  ({ model, calibration } = tinyCalibrated(dir));
  memory = await inMemoryWanda(model, calibration());
});

const out: ImatrixOut = {
  tensors: [
    { name: 'blk.1.ffn_down.weight', sumSq: Float64Array.of(1.5, 0, 1e6 + 0.25), sum: Float64Array.of(-1, 0, 3), tokens: 96 },
    { name: 'blk.0.attn_q.weight', sumSq: Float64Array.of(2, 8, 32, 128), tokens: 96 },
  ],
  dataset: 'queries.txt',
  chunks: 3,
  chunkSize: 32,
  metadata: { 'shears.note': 'kept' },
};

test('GGUF: in_sum2 (float32 sums of x^2), counts (tokens) and the metadata round-trip; entries sorted by name', () => {
  const file = path.join(dir, 'rt.gguf');
  const fd = fs.openSync(file, 'w');
  writeImatrixGGUF(fd, out);
  fs.closeSync(fd);
  const m = readImatrixGGUF(file);
  try {
    expect(m.entries.map((e) => e.name)).toEqual(['blk.0.attn_q.weight', 'blk.1.ffn_down.weight']);
    expect(m.entries.map((e) => [e.columns, e.matrices, e.counts])).toEqual([
      [4, 1, [96]],
      [3, 1, [96]],
    ]);
    expect(Array.from(m.entries[1].values())).toEqual(Array.from(Float32Array.of(1.5, 0, 1e6 + 0.25)));
    expect(Array.from(m.entries[0].values())).toEqual([2, 8, 32, 128]);
    expect(m).toMatchObject({ countUnit: 'tokens', datasets: ['queries.txt'], chunkCount: 3, chunkSize: 32, metadata: { 'shears.note': 'kept' } });
  } finally {
    m.close();
  }
});

test('legacy .dat: values = mean of x^2 x ncall (ncall = chunks), so values / ncall is the mean; the trailer round-trips', () => {
  const file = path.join(dir, 'rt.dat');
  fs.writeFileSync(file, encodeImatrixDat(out));
  const m = readImatrixDat(file);
  try {
    expect(m.entries.map((e) => [e.name, e.columns, e.counts])).toEqual([
      ['blk.0.attn_q.weight', 4, [3]],
      ['blk.1.ffn_down.weight', 3, [3]],
    ]);
    const mean = (i: number) => Array.from(m.entries[i].values(), (v) => v / m.entries[i].counts[0]);
    mean(0).forEach((v, j) => expect(v).toBeCloseTo(out.tensors[1].sumSq[j] / 96, 6));
    mean(1).forEach((v, j) => expect(v / (out.tensors[0].sumSq[j] / 96 || 1)).toBeCloseTo(out.tensors[0].sumSq[j] === 0 ? 0 : 1, 6));
    expect(m).toMatchObject({ countUnit: 'chunks', datasets: ['queries.txt'], chunkCount: 3 });
  } finally {
    m.close();
  }
});

describe.each([
  ['GGUF', 'hand.gguf', handGGUF],
  ['legacy .dat', 'hand.dat', handDat],
])('an imatrix built by hand in llama.cpp layout (%s)', (_label, name, build) => {
  test('drives wanda: the same masks as the same statistics in memory; output.weight is ignored', async () => {
    const file = path.join(dir, name);
    const entries = llamaCppEntries(memory.stats);
    // llama-imatrix --process-output also records the LM head's input: not a block layer, ignored.
    entries.push({ name: 'output.weight', sumSq: new Float64Array(16).fill(3), tokens: 64 });
    build(file, entries, 16);
    const pruned = path.join(dir, `pruned-${name.replace('.', '-')}`);
    const report = await prune({ model, method: 'wanda', sparsity: 0.5, stats: file, out: pruned });
    expect(report.statistics_file).toMatchObject({ form: name.endsWith('gguf') ? 'imatrix-gguf' : 'imatrix-dat', datasets: ['calib.txt'] });
    const masks = await withModel(pruned, masksOf);
    for (const [n, m] of memory.masks) expect(`${n} ${masks.get(n)}`).toBe(`${n} ${m}`);
  });
});
