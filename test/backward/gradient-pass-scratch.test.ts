// The gradient pass's accumulate mode and its file-backed scratch accumulators: the same
// moments whether they live in memory or in scratch pages (mapScratch), counted per
// sequence; the mapped files sit in the scratch folder until released, and go with it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { lossAndGradients } from '../../lib/backward/gradients';
import { CalibrationSet } from '../../lib/calibration/sample';
import { GradientMoments } from '../../lib/methods/gradient-moments';
import { filesNative } from '../../lib/native/files';
import { gradientPass } from '../../lib/prune/gradient-pass';
import type { StrategyStats } from '../../lib/strategies';
import { PhaseClock } from '../../lib/util/clock';
import { Scratch } from '../../lib/util/scratch';
import { model, randomTokens } from './native-helpers';

const m = model({ architecture: 'llama', hidden: 16, heads: 4, kvHeads: 2, intermediate: 24, layers: 2, tied: false, seed: 5 });
const seq = 10;
const samples = 3;
const cal: CalibrationSet = {
  tokens: Int32Array.from(randomTokens(m.config.vocabSize, samples * seq, 7)),
  samples,
  seqLen: seq,
  sampling: 'random',
  seed: 0,
  packed: false,
  notes: [],
} as CalibrationSet;

function collectors(): Map<string, StrategyStats> {
  const out = new Map<string, StrategyStats>();
  for (const [name, t] of m.tensors)
    if (name.startsWith('blocks.') && t.shape.length === 2) out.set(name, { gradient: new GradientMoments(t.data.length, { sum: true, sumSq: true }) });
  return out;
}

const moments = (c: Map<string, StrategyStats>, name: string) => c.get(name)!.gradient as GradientMoments;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-gp-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('gradientPass accumulators', () => {
  test('in memory, in scratch pages (budget 0) and by whole gradients: the same bits', async () => {
    const memory = collectors();
    const r = await gradientPass(m, cal, memory, { clock: new PhaseClock() });
    expect(r.mapped).toBeUndefined();

    // Reference: every sequence's whole gradients added with accumulateMoments.
    const ref = collectors();
    for (let s = 0; s < samples; s++) {
      const { grads } = await lossAndGradients(m, cal.tokens.subarray(s * seq, (s + 1) * seq), { batch: 1, seq });
      for (const name of ref.keys()) await moments(ref, name).add(grads.get(name)!);
    }

    const scratch = Scratch.create(dir);
    const mapped = collectors();
    const rm = await gradientPass(m, cal, mapped, { clock: new PhaseClock(), scratch, budgetBytes: 0 });
    expect(rm.mapped).toBeDefined();
    // Two statistics of 4 bytes a weight, each its own file in the scratch folder.
    const weights = [...mapped.values()].reduce((s, st) => s + (st.gradient as GradientMoments).size, 0);
    expect(rm.mapped!.bytes).toBe(2 * 4 * weights);
    expect(fs.readdirSync(scratch.dir)).toHaveLength(2 * mapped.size);

    for (const name of memory.keys()) {
      const a = moments(memory, name);
      const b = moments(mapped, name);
      const c = moments(ref, name);
      expect([a.count, b.count, c.count]).toEqual([samples, samples, samples]);
      for (const k of ['sum', 'sumSq'] as const) {
        expect(Buffer.from(b[k]!.buffer).equals(Buffer.from(a[k]!.buffer))).toBe(true);
        expect(Buffer.from(c[k]!.buffer).equals(Buffer.from(a[k]!.buffer))).toBe(true);
      }
      expect(a.sumSq!.some((v) => v > 0)).toBe(true);
    }
    // The file holds what the array held (a shared mapping writes through).
    const q = moments(mapped, 'blocks.1.attn.q.weight');
    const copy = Float32Array.from(q.sumSq!);
    const file = fs.readdirSync(scratch.dir).map((f) => path.join(scratch.dir, f)).find((f) => fs.statSync(f).size === copy.byteLength && Buffer.from(fs.readFileSync(f)).equals(Buffer.from(copy.buffer)));
    expect(file).toBeDefined();

    rm.release();
    expect(q.sumSq!.length).toBe(0);
    rm.release();
    scratch.remove();
    expect(fs.existsSync(scratch.dir)).toBe(false);
  });

  test('accumulators under the budget stay in memory; a weight with other collectors gets whole gradients', async () => {
    const scratch = Scratch.create(dir);
    const c = collectors();
    // Copies: the pass hands every sequence's gradient in the same (reused) buffers.
    const seen: Float32Array[] = [];
    c.set('blocks.0.mlp.up.weight', { other: { add: async (g: Float32Array) => void seen.push(Float32Array.from(g)) } });
    const r = await gradientPass(m, cal, c, { clock: new PhaseClock(), scratch });
    expect(r.mapped).toBeUndefined();
    expect(fs.readdirSync(scratch.dir)).toHaveLength(0);
    expect(seen.map((g) => g.length)).toEqual([24 * 16, 24 * 16, 24 * 16]);
    for (let s = 0; s < samples; s++) {
      const { grads } = await lossAndGradients(m, cal.tokens.subarray(s * seq, (s + 1) * seq), { batch: 1, seq });
      expect(Buffer.from(seen[s].buffer).equals(Buffer.from(grads.get('blocks.0.mlp.up.weight')!.buffer))).toBe(true);
    }
    scratch.remove();
  });

  test('mapScratch: a new zeroed file of the size asked; refused when the file exists or the space cannot be had (E_IO, naming it)', () => {
    const f = path.join(dir, 'a.f32');
    const buf = filesNative().mapScratch(f, 4096 * 3 + 8);
    expect(fs.statSync(f).size).toBe(4096 * 3 + 8);
    const v = new Float32Array(buf);
    expect(v.every((x) => x === 0)).toBe(true);
    v[5] = 2.5;
    expect(fs.readFileSync(f).readFloatLE(20)).toBe(2.5);
    expect(filesNative().unmapFile(buf)).toBe(true);
    expect(() => filesNative().mapScratch(f, 16)).toThrow(/a\.f32: cannot create/);
    expect(() => filesNative().mapScratch(path.join(dir, 'b'), -1)).toThrow(/bytes must be a non-negative integer/);
    expect(fs.existsSync(path.join(dir, 'b'))).toBe(false);
    // More than any disk: refused up front (fallocate), not a SIGBUS at a later write; no file left.
    expect(() => filesNative().mapScratch(path.join(dir, 'huge'), 2 ** 50)).toThrow(/huge: cannot (reserve the space|size|map)/);
    expect(fs.existsSync(path.join(dir, 'huge'))).toBe(false);
  });
});
