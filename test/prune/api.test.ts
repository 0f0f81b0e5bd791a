// prune() as a Node service would call it: progress events, the report (returned and
// on disk), the event loop kept free, cancellation that leaves nothing behind, GGUF
// output, and SparseGPT at sparsity 0 changing nothing.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { prune, PruneOptions, PruneProgress } from '../../lib/prune/run';
import { bitsEqual } from '../formats/helpers';
import { describeShared, sharedPath, testShared } from '../support/shared-data';
import { countZeros, inOutputLayout, tempDir, tempLeftovers, zerosPerRow } from './helpers';
import { linearNames, SPEC, tinyPrune, writeCalibTokens, writeTinyLlama2c, writeTinyModel } from './tiny';

const STORIES = () => sharedPath('models', 'stories260K', 'stories260K.bin');
const C4 = () => sharedPath('text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl');

let dir: string;
let model: string;
let llama2c: string;
let calib: string;
beforeAll(() => {
  dir = tempDir();
  model = writeTinyModel(path.join(dir, 'tiny'));
  llama2c = writeTinyLlama2c(path.join(dir, 'tiny-llama2c'));
  calib = writeCalibTokens(path.join(dir, 'calib.json'));
});

const tinyRun = (out: string, extra: Partial<PruneOptions> = {}): PruneOptions => tinyPrune(model, calib, out, extra);

/** Asserts that every tensor of the model at `out` is bit-identical to `input`'s (in out's layout). */
async function expectUnchanged(input: string, out: string): Promise<void> {
  const a = await loadModel(input);
  const b = await loadModel(out);
  try {
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const name of a.tensors.keys()) {
      const same = bitsEqual(inOutputLayout(a, b, name).data, b.tensors.get(name)!.data);
      expect({ name, same }).toEqual({ name, same: true });
    }
  } finally {
    a.close();
    b.close();
  }
}

describe('prune() progress and report', () => {
  test('stages in order, blocks increasing, report complete and equal to prune-report.json', async () => {
    const out = path.join(tempDir(), 'out');
    const events: PruneProgress[] = [];
    const report = await prune(tinyRun(out, { onProgress: (e) => events.push(e) }));

    const stages = events.map((e) => e.stage).filter((s, i, a) => i === 0 || a[i - 1] !== s);
    expect(stages).toEqual(['load', 'calibration', 'prune', 'write', 'done']);
    const blocks = events.filter((e) => e.stage === 'prune').map((e) => e.block!);
    expect(blocks[0]).toBe(1); // 1-based, as the CLI prints them
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]).toBeGreaterThanOrEqual(blocks[i - 1]);
    expect(new Set(blocks)).toEqual(new Set(Array.from({ length: SPEC.layers }, (_, i) => i + 1)));
    const last = events.filter((e) => e.stage === 'prune').at(-1)!;
    expect(last).toMatchObject({ block: SPEC.layers, blocks: SPEC.layers, phase: 'done' });
    for (let i = 1; i < events.length; i++) expect(events[i].elapsedSeconds).toBeGreaterThanOrEqual(events[i - 1].elapsedSeconds);

    expect(report).toMatchObject({ method: 'wanda', pattern: 'unstructured', sparsity: 0.5, granularity: 'row' });
    expect(report.layers.map((l) => l.name)).toEqual(linearNames());
    for (const l of report.layers) {
      expect(l.shape).toHaveLength(2);
      expect(l.sparsity).toBe(Math.floor(0.5 * l.shape[1]) / l.shape[1]);
      expect(l.pruned).toBe(l.shape[0] * Math.floor(0.5 * l.shape[1]));
    }
    for (const k of ['load', 'calibration', 'prune', 'write', 'total']) {
      expect(typeof report.timings[k]).toBe('number');
      expect(report.timings[k]).toBeGreaterThanOrEqual(0);
      expect(report.timings.total).toBeGreaterThanOrEqual(report.timings[k]);
    }
    expect(Number.isInteger(report.peak_rss_bytes) && report.peak_rss_bytes > 0).toBe(true);
    expect(report.output).toMatchObject({ path: path.resolve(out), format: 'hf', report: path.resolve(out, 'prune-report.json') });
    expect(report.calibration).toMatchObject({ source: path.resolve(calib), samples: 4, seq_len: 16 });
    expect(report.args).toEqual({ model, method: 'wanda', sparsity: 0.5, calibTokens: calib, calibSamples: 4, seqLen: 16, out });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8'))).toEqual(report);
  });

  test('magnitude with an included embedding and LM head: blocks never go backwards', async () => {
    const events: PruneProgress[] = [];
    const report = await prune({ model, method: 'magnitude', sparsity: 0.5, include: ['**'], out: path.join(tempDir(), 'out'), onProgress: (e) => events.push(e) });
    expect(report.layers.map((l) => l.name)).toEqual([...linearNames(), 'embed.weight', 'lm_head.weight']);
    const blocks = events.filter((e) => e.stage === 'prune').map((e) => e.block!);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]).toBeGreaterThanOrEqual(blocks[i - 1]);
    expect(Math.min(...blocks)).toBe(1);
  });

  test('the input model files are never written (they are mapped copy-on-write)', async () => {
    const hash = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    const files = [path.join(model, 'model.safetensors'), path.join(llama2c)];
    const before = files.map(hash);
    await prune(tinyRun(path.join(tempDir(), 'a'), { method: 'sparsegpt' }));
    await prune(tinyRun(path.join(tempDir(), 'b'), { model: llama2c, method: 'magnitude', calibTokens: undefined }));
    expect(files.map(hash)).toEqual(before);
  });

  test('finished blocks moved out of private memory (offload) give the same bytes as keeping them', async () => {
    for (const method of ['magnitude', 'wanda', 'sparsegpt']) {
      const dir = tempDir();
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      await prune(tinyRun(a, { method }));
      await prune(tinyRun(b, { method, offload: false }));
      const files = fs.readdirSync(a).filter((f) => f.endsWith('.safetensors'));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))).toBe(true);
      expect(tempLeftovers(dir)).toEqual([]);
    }
  });

  test('runs are repeatable, also two at once in one process', async () => {
    const outs = [0, 1, 2].map((i) => path.join(tempDir(), `o${i}`));
    await prune(tinyRun(outs[0], { method: 'sparsegpt' }));
    await Promise.all(outs.slice(1).map((o) => prune(tinyRun(o, { method: 'sparsegpt' }))));
    const bytes = outs.map((o) => fs.readFileSync(path.join(o, 'model.safetensors')));
    expect(bytes[1].equals(bytes[0]) && bytes[2].equals(bytes[0])).toBe(true);
  });

  test('calibration data given to magnitude: a warning, in the report too', async () => {
    const warnings: string[] = [];
    const report = await prune(tinyRun(path.join(tempDir(), 'out'), { method: 'magnitude', onWarning: (m) => warnings.push(m) }));
    expect(warnings).toEqual(['method magnitude uses no calibration data: --calib-tokens was ignored']);
    expect(report.notes).toContain(warnings[0]);
    expect(report.calibration).toBeNull();
  });

  testShared('the event loop keeps turning while a model is pruned', async () => {
    const out = path.join(tempDir(), 'out');
    let ticks = 0;
    let pruning = false;
    let ticksWhilePruning = 0;
    const timer = setInterval(() => {
      ticks++;
      if (pruning) ticksWhilePruning++;
    }, 1);
    try {
      const report = await prune({
        model: STORIES(),
        method: 'sparsegpt',
        sparsity: 0.5,
        calib: C4(),
        calibSamples: 8,
        seqLen: 128,
        out,
        onProgress: (e) => (pruning = e.stage === 'prune' && e.phase !== 'done'),
      });
      expect(report.layers).toHaveLength(35);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
    expect(ticksWhilePruning).toBeGreaterThan(0);
  });
});

describe('cancelling', () => {
  const points: { label: string; when: (e: PruneProgress) => boolean; method?: string; gguf?: boolean }[] = [
    { label: 'while loading', when: (e) => e.stage === 'load' },
    { label: 'during calibration', when: (e) => e.stage === 'calibration' },
    { label: 'while pruning block 1', when: (e) => e.stage === 'prune' && e.block === 1 && e.phase === 'pruning' },
    { label: 'while recomputing a block', when: (e) => e.stage === 'prune' && e.phase === 'forward' },
    { label: 'sparsegpt, while pruning block 2', when: (e) => e.stage === 'prune' && e.block === 2, method: 'sparsegpt' },
    { label: 'magnitude, while pruning', when: (e) => e.stage === 'prune' && e.block === 1, method: 'magnitude' },
    { label: 'when the write starts (HF)', when: (e) => e.stage === 'write' },
    { label: 'when the write starts (GGUF)', when: (e) => e.stage === 'write', gguf: true },
  ];
  test.each(points)('$label: rejects with AbortError and leaves no output', async ({ when, method, gguf }) => {
    const folder = tempDir();
    const out = path.join(folder, gguf ? 'out.gguf' : 'out');
    const ac = new AbortController();
    const opts = tinyRun(out, {
      signal: ac.signal,
      onProgress: (e) => {
        if (when(e)) ac.abort();
      },
    });
    if (method) opts.method = method;
    if (gguf) opts.model = llama2c; // its tokenizer converts to GGUF entries
    await expect(prune(opts)).rejects.toMatchObject({ name: 'AbortError' });
    expect(ac.signal.aborted).toBe(true);
    expect(fs.readdirSync(folder)).toEqual([]);
    expect(tempLeftovers(folder)).toEqual([]);
  });

  test('an already aborted signal: nothing is loaded or written', async () => {
    const folder = tempDir();
    const events: PruneProgress[] = [];
    await expect(
      prune(tinyRun(path.join(folder, 'out'), { signal: AbortSignal.abort(), onProgress: (e) => events.push(e) })),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(events).toEqual([]);
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  test('a cancelled --force run leaves the existing output as it was', async () => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    const first = await prune(tinyRun(out, { method: 'magnitude' }));
    const before = fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8');
    const ac = new AbortController();
    await expect(
      prune(tinyRun(out, { force: true, signal: ac.signal, onProgress: (e) => e.stage === 'write' && ac.abort() })),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8')).toBe(before);
    expect(first.method).toBe('magnitude');
    expect(fs.readdirSync(folder)).toEqual(['out']);
  });
});

describe('GGUF output', () => {
  const check = async (input: string, extra: Partial<PruneOptions>) => {
    const folder = tempDir();
    const out = path.join(folder, 'pruned.gguf');
    const report = await prune({ model: input, method: 'magnitude', sparsity: 0.5, granularity: 'row', out, ...extra });
    expect(fs.readdirSync(folder).sort()).toEqual(['pruned.gguf', 'pruned.prune-report.json']);
    expect(report.output).toMatchObject({ path: out, format: 'gguf', report: path.join(folder, 'pruned.prune-report.json') });
    expect(JSON.parse(fs.readFileSync(path.join(folder, 'pruned.prune-report.json'), 'utf8'))).toEqual(report);
    const a = await loadModel(input);
    const b = await loadModel(out);
    try {
      expect(b.format).toBe('gguf');
      expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
      for (const l of report.layers) {
        const t = b.tensors.get(l.name)!;
        expect({ name: l.name, rows: new Set(zerosPerRow(t)) }).toEqual({ name: l.name, rows: new Set([Math.floor(t.shape[1] / 2)]) });
        expect(countZeros(t)).toBe(l.pruned);
      }
      for (const name of a.tensors.keys())
        if (!report.layers.some((l) => l.name === name))
          expect({ name, same: bitsEqual(inOutputLayout(a, b, name).data, b.tensors.get(name)!.data) }).toEqual({ name, same: true });
    } finally {
      a.close();
      b.close();
    }
    return report;
  };

  test('tiny llama2.c model -> X.gguf + X.prune-report.json, loads back', async () => {
    const report = await check(llama2c, {});
    expect(report.output.tokenizer).toBe('converted');
  });

  test('a tokenizer GGUF cannot hold fails before any pruning and writes nothing', async () => {
    // The tiny HF model's tokenizer.json is a byte-level BPE (no U+2581 handling).
    const folder = tempDir();
    const events: PruneProgress[] = [];
    const run = prune({ model, method: 'magnitude', sparsity: 0.5, out: path.join(folder, 'x.gguf'), onProgress: (e) => events.push(e) });
    await expect(run).rejects.toThrow(/tokenizer .*tokenizer\.json.*GGUF is not implemented; write a Hugging Face folder instead/);
    expect(events.map((e) => e.stage)).toEqual(['load']);
    expect(fs.readdirSync(folder)).toEqual([]);
  });
  testShared('stories260K -> GGUF, loads back with its tokenizer', async () => {
    const report = await check(STORIES(), {});
    expect(report.output.tokenizer).toBe('converted');
  });
  testShared('stories260K as HF (a Llama-style tokenizer.json) -> GGUF', async () => {
    const hf = path.join(tempDir(), 'hf');
    await prune({ model: STORIES(), method: 'magnitude', sparsity: 0, out: hf });
    const report = await check(hf, {});
    expect(report.output.tokenizer).toBe('converted');
  });
});

describe('SparseGPT at sparsity 0', () => {
  test.each(['F32', 'F16', 'BF16'] as const)('tiny %s model: every weight bit-identical', async (dtype) => {
    const input = writeTinyModel(path.join(tempDir(), `tiny-${dtype}`), dtype);
    const out = path.join(tempDir(), 'out');
    const report = await prune(tinyRun(out, { model: input, method: 'sparsegpt', sparsity: 0 }));
    expect(report.achieved_sparsity).toBe(0);
    await expectUnchanged(input, out);
  });

  describeShared('stories260K', () => {
    test('every weight bit-identical (HF output, Q/K in rotate-half order)', async () => {
      const out = path.join(tempDir(), 'out');
      await prune({ model: STORIES(), method: 'sparsegpt', sparsity: 0, calib: C4(), calibSamples: 4, seqLen: 64, out });
      await expectUnchanged(STORIES(), out);
    });
  });
});
