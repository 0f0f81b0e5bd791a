// A small sweep over stories260K: the cells, the report files, the end-to-end metrics
// against independent references, and resuming an interrupted sweep.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { perplexity } from '../../lib/eval/perplexity';
import { readEvalText } from '../../lib/eval/text';
import { loadModel } from '../../lib/formats/load';
import { ForwardModel } from '../../lib/forward/model';
import { magnitude } from '../../lib/strategies';
import { runPipeline } from '../../lib/prune/pipeline';
import { readResults, REPORT_FILES } from '../../lib/report';
import type { SweepCell } from '../../lib/report/types';
import { sweep, SweepRunOptions } from '../../lib/sweep/run';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { describeShared, sharedPath } from '../support/shared-data';

const MODEL = sharedPath('models', 'stories260K', 'stories260K.bin');
const CALIB = sharedPath('text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl');
const EVAL = sharedPath('text', 'tinystories', 'tinystories_val.txt');

// The heads of the shared files keep each sweep's tokenization short.
let dir: string;
let calib: string;
let evalText: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-sweep-'));
  if (!fs.existsSync(CALIB)) return;
  calib = path.join(dir, 'c4-head100.jsonl');
  fs.writeFileSync(calib, `${fs.readFileSync(CALIB, 'utf8').split('\n').slice(0, 100).join('\n')}\n`);
  evalText = path.join(dir, 'tinystories-head.txt');
  fs.writeFileSync(evalText, fs.readFileSync(EVAL, 'utf8').slice(0, 20000));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const small = (out: string, extra: Partial<SweepRunOptions> = {}): SweepRunOptions => ({
  model: MODEL,
  methods: ['magnitude', 'wanda'],
  levels: [0, 0.1, 0.5],
  patterns: ['unstructured', '2:4'],
  calib,
  calibSamples: 4,
  seqLen: 64,
  eval: evalText,
  evalSeqLen: 128,
  maxWindows: 2,
  out: path.join(dir, out),
  ...extra,
});

const find = (cells: SweepCell[], method: string, pattern: string, level: number) =>
  cells.find((c) => c.method === method && c.pattern === pattern && c.level === level)!;

// Reference KL(p || q) of softmaxes and top-1 agreement, plainly in TypeScript.
function refKl(a: Float32Array, b: Float32Array, vocab: number): { kl: number; agree: number } {
  let kl = 0;
  let agree = 0;
  const rows = a.length / vocab;
  for (let r = 0; r < rows; r++) {
    const x = a.subarray(r * vocab, (r + 1) * vocab);
    const y = b.subarray(r * vocab, (r + 1) * vocab);
    const mx = Math.max(...x);
    const my = Math.max(...y);
    const zx = x.reduce((s, v) => s + Math.exp(v - mx), 0);
    const zy = y.reduce((s, v) => s + Math.exp(v - my), 0);
    let k = 0;
    for (let i = 0; i < vocab; i++) {
      const lp = x[i] - mx - Math.log(zx);
      const lq = y[i] - my - Math.log(zy);
      k += Math.exp(lp) * (lp - lq);
    }
    kl += k;
    if (x.indexOf(mx) === y.indexOf(my)) agree++;
  }
  return { kl, agree };
}

describeShared('shears sweep on stories260K', () => {
  test('cells, report files and metrics', async () => {
    const out = path.join(dir, 'full');
    const outcome = await sweep(small('full'));
    // 2 methods x (3 levels + one 2:4 cell)
    expect(outcome.computed).toBe(8);
    for (const f of REPORT_FILES) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const r = await readResults(path.join(out, 'results.json'));
    expect(r.cells.map((c) => `${c.method} ${c.pattern} ${c.level} ${c.status}`).sort()).toEqual(
      [
        'magnitude unstructured 0 ok',
        'magnitude unstructured 0.1 ok',
        'magnitude unstructured 0.5 ok',
        'magnitude 2:4 0.5 ok',
        'wanda unstructured 0 ok',
        'wanda unstructured 0.1 ok',
        'wanda unstructured 0.5 ok',
        'wanda 2:4 0.5 ok',
      ].sort(),
    );
    expect(fs.readdirSync(path.join(out, 'cells')).sort()).toHaveLength(8);

    // Dense perplexity: the standard protocol run directly on the model.
    const model = await loadModel(MODEL);
    try {
      const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
      const ids = tok.encode(readEvalText(evalText), { bos: true });
      const ref = await perplexity(new ForwardModel(model), ids, { seqLen: 128, maxWindows: 2 });
      expect(r.dense.perplexity).toBeCloseTo(ref.perplexity, 10);
    } finally {
      model.close();
    }

    for (const m of ['magnitude', 'wanda']) {
      const zero = find(r.cells, m, 'unstructured', 0);
      expect(zero.kl).toBe(0);
      expect(zero.top1_agreement).toBe(1);
      expect(zero.perplexity).toBe(r.dense.perplexity);
      const a = find(r.cells, m, 'unstructured', 0.1);
      const b = find(r.cells, m, 'unstructured', 0.5);
      expect(b.kl!).toBeGreaterThan(a.kl!);
      expect(a.kl!).toBeGreaterThan(0);
      expect(b.top1_agreement!).toBeLessThan(a.top1_agreement!);
      expect(b.perplexity!).toBeGreaterThan(r.dense.perplexity);
      expect(b.sparsity!).toBeCloseTo(0.5, 2);
      const nm = find(r.cells, m, '2:4', 0.5);
      expect(nm.sparsity).toBeCloseTo(0.5, 6);
      for (const c of [zero, a, b, nm]) {
        for (const phase of ['load', 'calibration', 'statistics', 'pruning', 'forward', 'eval', 'total']) expect(c.timings![phase]).toBeGreaterThanOrEqual(0);
        expect(c.peak_rss_bytes).toBeGreaterThan(0);
      }
    }
    expect(r.settings.stats).toMatch(/^exact/);
    // Default queries: the evaluation windows.
    expect(r.settings.queries).toMatchObject({ count: 2, positions: 256 });
  });

  test('KL and top-1 agreement on a queries file match a plain reference', async () => {
    const queries = ['Once upon a time, there was a little girl.', 'The dog ran to the park and saw a big red ball.'];
    const qfile = path.join(dir, 'queries.txt');
    fs.writeFileSync(qfile, `${queries.join('\n')}\n\n`);
    const outcome = await sweep(small('queries', { methods: ['magnitude'], levels: [0.5], patterns: ['unstructured'], calib: undefined, queries: qfile }));
    const cell = outcome.results.cells[0];

    const dense = await loadModel(MODEL);
    const pruned = await loadModel(MODEL);
    try {
      await runPipeline(pruned, { strategy: magnitude(), sparsity: 0.5 });
      const tok = await loadTokenizer(dense.tokenizer, { vocabSize: dense.config.vocabSize });
      const V = dense.config.vocabSize;
      let kl = 0;
      let agree = 0;
      let n = 0;
      for (const q of queries) {
        const ids = Int32Array.from(tok.encode(q, { bos: true }));
        const logits = async (m: typeof dense) => {
          const fm = new ForwardModel(m);
          return fm.logits(await fm.forward(ids, 1, ids.length), ids.length);
        };
        const r = refKl(await logits(dense), await logits(pruned), V);
        kl += r.kl;
        agree += r.agree;
        n += ids.length;
      }
      expect(outcome.results.settings.queries).toMatchObject({ count: 2, positions: n });
      // Perplexity of the pruned model with the protocol, with and without a queries
      // file (without one, a single pass per window serves perplexity and KL).
      const ref = await perplexity(new ForwardModel(pruned), tok.encode(readEvalText(evalText), { bos: true }), { seqLen: 128, maxWindows: 2 });
      expect(cell.perplexity).toBe(ref.perplexity);
      const windows = await sweep(small('queries-windows', { methods: ['magnitude'], levels: [0.5], patterns: ['unstructured'], calib: undefined }));
      expect(windows.results.cells[0].perplexity).toBe(ref.perplexity);
      expect(cell.kl!).toBeCloseTo(kl / n, 5);
      expect(cell.top1_agreement).toBeCloseTo(agree / n, 10);
    } finally {
      dense.close();
      pruned.close();
    }
  });

  test('--calib-tokens and --eval-tokens: token ids used as they are', async () => {
    const model = await loadModel(MODEL);
    let ids: number[];
    try {
      const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
      ids = tok.encode(readEvalText(evalText), { bos: true });
      const evalTokens = path.join(dir, 'eval-ids.json');
      const calibTokens = path.join(dir, 'calib-ids.json');
      fs.writeFileSync(evalTokens, JSON.stringify(ids));
      fs.writeFileSync(calibTokens, JSON.stringify(ids.slice(1000)));
      const o = small('tokens', { methods: ['wanda'], levels: [0.5], patterns: ['unstructured'], calib: undefined, calibTokens, eval: undefined, evalTokens });
      const r = (await sweep(o)).results;
      const ref = await perplexity(new ForwardModel(model), ids, { seqLen: 128, maxWindows: 2 });
      expect(r.dense.perplexity).toBe(ref.perplexity);
      expect(r.cells[0].status).toBe('ok');
      expect(r.settings.evaluation).toMatchObject({ source: evalTokens, tokens: ids.length, seq_len: 128, windows: 2 });
      expect(r.settings.calibration).toMatchObject({ source: calibTokens, samples: 4, seq_len: 64 });
    } finally {
      model.close();
    }
  });

  test('an interrupted sweep resumed with --resume recomputes only the missing cells', async () => {
    const o = small('resume', { methods: ['magnitude', 'wanda'], levels: [0.1, 0.5], patterns: ['unstructured', '2:4'] });
    const ac = new AbortController();
    const first: SweepCell[] = [];
    await expect(
      sweep({
        ...o,
        signal: ac.signal,
        onCell: (c) => {
          first.push(c);
          if (first.length === 2) ac.abort(new Error('stop after two cells'));
        },
      }),
    ).rejects.toThrow(/stop after two cells/);
    expect(first).toHaveLength(2);
    const cellsDir = path.join(o.out, 'cells');
    expect(fs.readdirSync(cellsDir)).toHaveLength(2);
    expect(fs.existsSync(path.join(o.out, 'results.json'))).toBe(false);
    const before = new Map(fs.readdirSync(cellsDir).map((f) => [f, fs.readFileSync(path.join(cellsDir, f), 'utf8')]));

    // Without --resume the folder is protected; with other settings it cannot resume.
    await expect(sweep(o)).rejects.toThrow(/already holds a sweep/);
    await expect(sweep({ ...o, resume: true, seed: 7 })).rejects.toThrow(/settings differ \(seed\)/);

    const second: SweepCell[] = [];
    const outcome = await sweep({ ...o, resume: true, onCell: (c) => second.push(c) });
    expect(outcome.reused).toBe(2);
    expect(outcome.computed).toBe(4);
    const key = (c: SweepCell) => `${c.method} ${c.pattern} ${c.level}`;
    expect(second.map(key).sort()).toEqual(['magnitude 2:4 0.5', 'wanda unstructured 0.1', 'wanda unstructured 0.5', 'wanda 2:4 0.5'].sort());
    expect(second.map(key)).not.toContain(key(first[0]));
    // The first cells' files are untouched, and the results hold all six cells.
    for (const [f, text] of before) expect(fs.readFileSync(path.join(cellsDir, f), 'utf8')).toBe(text);
    const r = await readResults(path.join(o.out, 'results.json'));
    expect(r.cells).toHaveLength(6);
    expect(r.cells.every((c) => c.status === 'ok')).toBe(true);
    expect(find(r.cells, first[0].method, first[0].pattern, first[0].level).computed_at).toBe(first[0].computed_at);

    // A complete sweep resumed computes nothing; --force starts over.
    const again = await sweep({ ...o, resume: true });
    expect([again.computed, again.reused]).toEqual([0, 6]);
    const forced = await sweep({ ...o, methods: ['magnitude'], patterns: ['unstructured'], force: true });
    expect([forced.computed, forced.reused]).toEqual([2, 0]);
    expect(fs.readdirSync(cellsDir)).toHaveLength(2);
  });

  test('--stats once: dense statistics reused by every cell, labelled as such', async () => {
    const o = small('once', { methods: ['magnitude', 'wanda', 'sparsegpt'], levels: [0.1, 0.5], patterns: ['unstructured'] });
    const once = (await sweep({ ...o, stats: 'once' })).results;
    const exact = (await sweep({ ...o, out: path.join(dir, 'exact'), levels: [0.5] })).results;
    expect(once.settings.stats).toMatch(/^once \(approximate/);
    expect(once.cells).toHaveLength(6);
    for (const c of once.cells) {
      expect(c.status).toBe('ok');
      expect(c.stats).toMatch(c.method === 'magnitude' ? /^none/ : /^once/);
    }
    for (const m of ['wanda', 'sparsegpt']) {
      const a = find(once.cells, m, 'unstructured', 0.1);
      const b = find(once.cells, m, 'unstructured', 0.5);
      expect(b.kl!).toBeGreaterThan(a.kl!);
      expect(b.sparsity!).toBeCloseTo(0.5, 2);
      // Same calibration data, statistics from the dense instead of the partly pruned
      // model: a different but comparable result.
      const e = find(exact.cells, m, 'unstructured', 0.5);
      expect(e.stats).toBe('exact');
      expect(b.perplexity).not.toBe(e.perplexity);
      expect(b.perplexity! / e.perplexity!).toBeGreaterThan(0.5);
      expect(b.perplexity! / e.perplexity!).toBeLessThan(2);
    }
    // Magnitude uses no statistics: identical either way.
    expect(find(once.cells, 'magnitude', 'unstructured', 0.5).perplexity).toBe(find(exact.cells, 'magnitude', 'unstructured', 0.5).perplexity);
  });

  test('a cell the method cannot do is "na" with the reason, and the sweep goes on', async () => {
    // SparseGPT's N:M needs M to divide its block of 128 columns: 1:3 does not.
    const outcome = await sweep(small('na', { methods: ['sparsegpt'], levels: [0.5], patterns: ['unstructured', '1:3'] }));
    const cells = outcome.results.cells;
    expect(find(cells, 'sparsegpt', 'unstructured', 0.5).status).toBe('ok');
    const bad = cells.find((c) => c.pattern === '1:3')!;
    expect(bad.status).toBe('na');
    expect(bad.reason).toMatch(/1:3/);
    expect(bad.perplexity).toBeNull();
    expect(bad.error).toBe(false);
    const md = fs.readFileSync(path.join(dir, 'na', 'report.md'), 'utf8');
    expect(md).toMatch(/NA \(/);

    // --resume keeps "does not apply", retries failures and recomputes unreadable files.
    const cellsDir = path.join(dir, 'na', 'cells');
    const o = small('na', { methods: ['sparsegpt'], levels: [0.5], patterns: ['unstructured', '1:3'], resume: true });
    expect((await sweep(o)).computed).toBe(0);
    const naFile = fs.readdirSync(cellsDir).find((f) => f.includes('1-3'))!;
    const okFile = fs.readdirSync(cellsDir).find((f) => f.includes('unstructured'))!;
    fs.writeFileSync(path.join(cellsDir, naFile), JSON.stringify({ ...bad, error: true, reason: 'out of memory' }));
    fs.writeFileSync(path.join(cellsDir, okFile), '{"method": "sparsegpt", "pattern": "unstr');
    const redo: SweepCell[] = [];
    const again = await sweep({ ...o, onCell: (c) => redo.push(c) });
    expect(again.computed).toBe(2);
    expect(redo.map((c) => c.status).sort()).toEqual(['na', 'ok']);
  });
});
