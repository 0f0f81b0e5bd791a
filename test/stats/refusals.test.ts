// What `prune --stats FILE` and `shears stats` refuse, with typed errors naming the file,
// before any work and with nothing written: a method needing what the file lacks
// (sparsegpt's Hessian), a file made for another model (first mismatch named), hostile
// files (truncated, absurd sizes, duplicate entries, a model GGUF), and bad stats options.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../../lib/errors';
import { prune } from '../../lib/prune/run';
import { openImportance } from '../../lib/stats/importance';
import { stats, StatsOptions } from '../../lib/stats/run';
import { writeHFDir, llamaConfig, llamaTensors, TinyLlamaSpec, buildGGUF, tinyGGUFTensors, llamaKVs } from '../formats/fixtures';
import { tempDir } from '../prune/helpers';
import { SPEC, writeCalibTokens, writeTinyModel } from '../prune/tiny';
import { handDat, handGGUF, HandEntry } from './helpers';

let dir: string;
let model: string;
let calibTokens: string;
const files: Record<string, string> = {};

/** Folder entries other than the ones a test made itself: outputs or scratch left behind. */
const leftovers = (before: string[]) => fs.readdirSync(dir).filter((f) => !before.includes(f));

beforeAll(async () => {
  dir = tempDir('shears-stats-refuse-');
  model = writeTinyModel(path.join(dir, 'tiny'));
  calibTokens = writeCalibTokens(path.join(dir, 'calib.json'));
  for (const name of ['s.safetensors', 'i.dat', 'i.gguf']) {
    files[name] = path.join(dir, name);
    await stats({ model, calibTokens, calibSamples: 2, seqLen: 16, out: files[name] });
  }
});

async function refused(o: { method?: string; stats: string; model?: string }): Promise<unknown> {
  const before = fs.readdirSync(dir);
  const out = path.join(dir, 'out');
  const err = await prune({ model: o.model ?? model, method: o.method ?? 'wanda', sparsity: 0.5, stats: o.stats, out }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(leftovers(before)).toEqual([]);
  return err;
}

describe('a method that needs what the file lacks', () => {
  test.each(['s.safetensors', 'i.dat', 'i.gguf'])('sparsegpt with %s: E_STATS_MISSING naming the Hessian and the file', async (name) => {
    const e = (await refused({ method: 'sparsegpt', stats: files[name] })) as Error & { code: string; file: string };
    expect(e.code).toBe('E_STATS_MISSING');
    expect(e.file).toBe(files[name]);
    expect(e.message).toMatch(/method sparsegpt needs X\^T X of each layer input \(SparseGPT's Hessian\), which this .* file does not hold/);
  });
  test('a gradient method (fisher) with a shears file written without --gradients: E_STATS_MISSING naming the gradient moments and how to write them', async () => {
    const e = (await refused({ method: 'fisher', stats: files['s.safetensors'] })) as Error & { code: string };
    expect(e.code).toBe('E_STATS_MISSING');
    expect(e.message).toMatch(/method fisher needs per-weight moments of the calibration loss gradients .*which this shears file does not hold/);
    expect(e.message).toMatch(/write it with shears stats --gradients/);
  });
  test('--stats with --calib, and a structured method, are refused as arguments', async () => {
    await expect(prune({ model, method: 'wanda', sparsity: 0.5, stats: files['i.gguf'], calibTokens, out: path.join(dir, 'o') })).rejects.toThrow(/give --stats or a calibration file/);
    await expect(prune({ model, method: 'flap', sparsity: 0.2, stats: files['i.gguf'], out: path.join(dir, 'o') })).rejects.toThrow(/flap gathers its own statistics/);
  });
});

describe('a file made for another model: E_STATS_MODEL naming the first mismatch and the file', () => {
  const wider: TinyLlamaSpec = { ...SPEC, inter: 32 };
  const deeper: TinyLlamaSpec = { ...SPEC, layers: 2 };
  let other: string;
  let shallow: string;
  beforeAll(() => {
    other = path.join(dir, 'wider');
    writeHFDir(other, llamaConfig(wider), llamaTensors(wider, 'F32', 1));
    shallow = path.join(dir, 'shallow');
    writeHFDir(shallow, llamaConfig(deeper), llamaTensors(deeper, 'F32', 1));
  });
  test.each([
    ['s.safetensors', /blocks\.0\.mlp\.down\.weight has 24 input columns, the model's blocks\.0\.mlp\.down\.weight takes 32/],
    ['i.gguf', /blk\.0\.ffn_down\.weight \(blocks\.0\.mlp\.down\.weight\) has 24 input columns, the model's blocks\.0\.mlp\.down\.weight takes 32/],
    ['i.dat', /blk\.0\.ffn_down\.weight \(blocks\.0\.mlp\.down\.weight\) has 24 input columns/],
  ])('%s on a model with a wider MLP', async (name, message) => {
    const e = (await refused({ stats: files[name], model: other })) as Error & { code: string };
    expect(e.code).toBe('E_STATS_MODEL');
    expect(e.message).toMatch(message);
    expect(e.message).toContain(files[name]);
    expect(e.message).toContain('the statistics were made for another model');
  });
  test.each(['s.safetensors', 'i.gguf', 'i.dat'])('%s on a model with fewer blocks: the first entry it does not have', async (name) => {
    const e = (await refused({ stats: files[name], model: shallow })) as Error & { code: string };
    expect(e.code).toBe('E_STATS_MODEL');
    expect(e.message).toMatch(/the file has (blk\.2\.\w+\.weight \()?blocks\.2\.attn\.[a-z]+\.weight\)?, which the model does not have/);
  });
  test('an imatrix missing a layer the run prunes names it', async () => {
    const file = path.join(dir, 'partial.gguf');
    const entries: HandEntry[] = [{ name: 'blk.0.attn_q.weight', sumSq: new Float64Array(16).fill(1), tokens: 32 }];
    handGGUF(file, entries, 16);
    const e = (await refused({ stats: file })) as Error & { code: string };
    expect(e.message).toMatch(/no statistics for blk\.0\.attn_k\.weight \(blocks\.0\.attn\.k\.weight\)/);
    expect(e.code).toBe('E_STATS_MODEL');
  });
});

describe('hostile files: a FormatError naming the file, read in bounded memory', () => {
  const formatError = async (file: string, message: RegExp) => {
    const e = (await refused({ stats: file })) as FormatError;
    expect(e).toBeInstanceOf(FormatError);
    expect(e.file).toBe(file);
    expect(e.message).toMatch(message);
  };
  const write = (name: string, b: Uint8Array) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, b);
    return f;
  };
  test.each([
    ['s.safetensors', /truncated|past the end|cover/],
    ['i.gguf', /truncated|past the end/],
    ['i.dat', /truncated|past the end|does not fit/],
  ])('%s truncated', async (name, message) => {
    const b = fs.readFileSync(files[name]);
    await formatError(write(`cut-${name}`, b.subarray(0, b.length - 13)), message);
  });
  test('legacy .dat with an absurd entry count, value count and name length', async () => {
    const i32s = (...v: number[]) => Buffer.from(Int32Array.from(v).buffer);
    await formatError(write('count.dat', i32s(2 ** 30, 4)), /entry count 1073741824 is implausibly large/);
    await formatError(write('fit.dat', i32s(9, 4)), /entry count 9 cannot fit in 8 bytes/);
    await formatError(write('nval.dat', Buffer.concat([i32s(1, 4), Buffer.from('blk.'), i32s(1, 2 ** 30, 0)])), /entry blk\. values \(1073741824 float32\).*past the end/);
    await formatError(write('name.dat', i32s(1, -5, 0, 0, 0, 0)), /entry 0 name length -5/);
    await formatError(write('ncall.dat', Buffer.concat([i32s(1, 4), Buffer.from('blk.'), i32s(0, 1, 0)])), /ncall 0/);
  });
  test('a 256 MiB entry of the wrong width is refused from its header: its values are never read', async () => {
    const file = path.join(dir, 'huge.dat');
    const nval = 64 * 2 ** 20;
    const head = Buffer.concat([Buffer.from(Int32Array.of(1, 19).buffer), Buffer.from('blk.0.attn_q.weight'), Buffer.from(Int32Array.of(1, nval).buffer)]);
    fs.writeFileSync(file, head);
    fs.truncateSync(file, head.length + nval * 4); // sparse: no data on disk, none read
    const rss = process.memoryUsage().rss;
    const e = (await refused({ stats: file })) as Error & { code: string };
    expect(e.code).toBe('E_STATS_MODEL');
    expect(e.message).toMatch(/blk\.0\.attn_q\.weight \(blocks\.0\.attn\.q\.weight\) has 67108864 input columns, the model's blocks\.0\.attn\.q\.weight takes 16/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
  });
  test('legacy .dat with a duplicate entry, and with bytes after the trailer', async () => {
    const e: HandEntry = { name: 'blk.0.attn_q.weight', sumSq: [1, 2], tokens: 16 };
    const twice = path.join(dir, 'twice.dat');
    handDat(twice, [e, e], 16);
    await formatError(twice, /entry blk\.0\.attn_q\.weight appears twice/);
    const tail = path.join(dir, 'tail.dat');
    handDat(tail, [e], 16);
    fs.appendFileSync(tail, Buffer.alloc(3));
    await formatError(tail, /3 bytes after the trailer/);
  });
  test('GGUF: a model is not an imatrix; negative counts and a mixture of experts are refused', async () => {
    await formatError(write('model.gguf', buildGGUF(llamaKVs(SPEC), tinyGGUFTensors(SPEC))), /not a llama.cpp imatrix \(this GGUF holds a model\)/);
    const neg = path.join(dir, 'neg.gguf');
    handGGUF(neg, [{ name: 'blk.0.attn_q.weight', sumSq: [1, 2], tokens: -4 }], 16);
    await formatError(neg, /counts\[0\] = -4/);
    const moe = write(
      'moe.gguf',
      buildGGUF(
        [{ key: 'general.type', type: 8, value: 'imatrix' }],
        [
          { name: 'blk.0.ffn_down.weight.in_sum2', ne: [24, 2], type: 0, data: new Uint8Array(24 * 2 * 4) },
          { name: 'blk.0.ffn_down.weight.counts', ne: [1, 2], type: 0, data: new Uint8Array(8) },
        ],
      ),
    );
    await formatError(moe, /holds 2 matrices \(a mixture of experts\)/);
  });
  test('values that cannot be sums of squares: a NaN or a negative sum is named with its entry and column', async () => {
    const nan = path.join(dir, 'nan.gguf');
    const entries = [{ name: 'blk.0.attn_q.weight', sumSq: [1, NaN], tokens: 16 }];
    handGGUF(nan, entries, 16);
    const src = openImportance(nan);
    try {
      const e = src.layers('llama').byWeight.get('blocks.0.attn.q.weight')!;
      expect(() => e.read()).toThrow(/blk\.0\.attn_q\.weight: sum of squares of column 1 is NaN/);
    } finally {
      src.close();
    }
  });
  test('a safetensors model file is not an importance file', async () => {
    await formatError(path.join(model, 'model.safetensors'), /not a shears importance file .*a model's safetensors\?/);
  });
});

describe('shears stats refuses before loading, writing nothing', () => {
  test.each([
    [{ out: 'x.bin' }, /--out .*x\.bin: give a name ending in \.safetensors/],
    [{ calibTokens: undefined }, /needs calibration data/],
    [{ seqLen: 1 }, /--seq-len must be at least 2/],
    [{ activationThreshold: -1 }, /--activation-threshold must be a finite number >= 0/],
  ] as [Partial<StatsOptions>, RegExp][])('%p', async (change, message) => {
    const before = fs.readdirSync(dir);
    const out = path.join(dir, change.out ?? 'new.safetensors');
    await expect(stats({ model, calibTokens, ...change, out })).rejects.toThrow(message);
    expect(leftovers(before)).toEqual([]);
  });
  test('an existing output without --force', async () => {
    await expect(stats({ model, calibTokens, out: files['i.gguf'] })).rejects.toThrow(/already exists \(use --force/);
  });
  test('a stop during the pass leaves no output and no scratch', async () => {
    const before = fs.readdirSync(dir);
    const ac = new AbortController();
    const run = stats({ model, calibTokens, calibSamples: 2, seqLen: 16, out: path.join(dir, 'stopped.safetensors'), signal: ac.signal, onProgress: (p) => p.stage === 'statistics' && ac.abort() });
    await expect(run).rejects.toThrow();
    expect(leftovers(before)).toEqual([]);
  });
});
