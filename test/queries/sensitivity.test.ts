// measureSensitivity on a tiny random Llama: the same KL as held-out.ts for the model
// with one block pruned, the dense model untouched, determinism, a block made more
// important measured as more sensitive (and given less sparsity), cancellation.
import { ForwardModel } from '../../lib/forward/model';
import { heldOutMeasures } from '../../lib/eval/held-out';
import { Tensor } from '../../lib/model/types';
import { withBlockShapes } from '../../lib/model/shapes';
import { blockLinears } from '../../lib/prune/layers';
import { allocateSparsity } from '../../lib/queries/allocation';
import { QuerySequence } from '../../lib/queries/environment';
import { measureSensitivity } from '../../lib/queries/sensitivity';
import { gradient, magnitude, sparsegpt, wanda } from '../../lib/strategies';
import { randomModel } from '../forward/random-model';
import { rng } from '../support/random';

const LEVELS = [0.3, 0.6, 0.9];

function tinyModel(): ForwardModel {
  const { config, tensors } = randomModel({ architecture: 'llama', layers: 3, hidden: 16, intermediate: 32, vocab: 37, context: 40, seed: 3 });
  return new ForwardModel({ config, tensors }, { backend: 'cpu' });
}

/** Sequences of random ids: a "query" part then an "answer" part. */
function sequences(n: number, seed: number): QuerySequence[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const L = 8 + ((i * 5) % 13);
    return { ids: Int32Array.from({ length: L }, () => Math.floor(r() * 37)), answerStart: 2 + (i % 4) };
  });
}

function snapshot(fm: ForwardModel): Map<string, Buffer> {
  return new Map([...fm.tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]));
}

function expectIntact(fm: ForwardModel, before: Map<string, Buffer>): void {
  for (const [k, t] of fm.tensors) expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(before.get(k)!)).toBe(true);
}

/** The model with block b's matrices magnitude-pruned per row at levelOf(b) (0: dense), in plain loops. */
function magnitudeModel(fm: ForwardModel, levelOf: (b: number) => number): ForwardModel {
  const tensors = new Map<string, Tensor>(fm.tensors);
  for (let b = 0; b < fm.numLayers; b++)
    for (const l of blockLinears(fm.config, fm.tensors, b)) {
      const t = fm.tensor(l.name);
      const data = Float32Array.from(t.data as Float32Array);
      // The floor(level * cols) smallest |w| of each row (ties: lower index).
      const [rows, cols] = t.shape;
      for (let r = 0; r < rows; r++) {
        const idx = Array.from({ length: cols }, (_, j) => j).sort((a, c) => Math.abs(data[r * cols + a]) - Math.abs(data[r * cols + c]) || a - c);
        for (const j of idx.slice(0, Math.floor(levelOf(b) * cols))) data[r * cols + j] = 0;
      }
      tensors.set(l.name, { ...t, data });
    }
  return new ForwardModel({ config: fm.config, tensors }, { backend: 'cpu' });
}

describe('measureSensitivity', () => {
  test.each([0, 0.5])("each value is held-out's answer KL of the model with that block pruned, the others at %p", async (others) => {
    const fm = tinyModel();
    const seqs = sequences(6, 1);
    const curves = await measureSensitivity(fm, seqs, { strategy: magnitude(), levels: LEVELS, granularity: 'row', others });
    expect(curves.others).toBe(others);
    expect(curves.positions).toBe(seqs.reduce((t, q) => t + q.ids.length - q.answerStart, 0));
    for (const b of [0, 2]) {
      for (const [i, level] of LEVELS.entries()) {
        const pruned = magnitudeModel(fm, (j) => (j === b ? level : others));
        const want = (await heldOutMeasures(fm, pruned, seqs)).answer!.kl;
        expect(curves.blocks[b].kl[i]).toBeGreaterThan(0);
        expect(Math.abs(curves.blocks[b].kl[i] - want)).toBeLessThanOrEqual(1e-9 * want);
      }
    }
  });

  test('around an operating point, every curve passes through the operating point itself', async () => {
    const fm = tinyModel();
    const seqs = sequences(5, 6);
    const levels = [0.3, 0.5, 0.7];
    const c = await measureSensitivity(fm, seqs, { strategy: wanda(), levels, others: 0.5 });
    const atPoint = c.blocks.map((blk) => blk.kl[1]);
    for (const v of atPoint) expect(Math.abs(v - atPoint[0])).toBeLessThanOrEqual(1e-12 * atPoint[0]);
    expect(atPoint[0]).toBeGreaterThan(0);
  });

  test('wanda curves: the dense model untouched, parameters counted, deterministic', async () => {
    const fm = tinyModel();
    const before = snapshot(fm);
    const seqs = sequences(5, 2);
    const a = await measureSensitivity(fm, seqs, { strategy: wanda(), levels: LEVELS });
    expectIntact(fm, before);
    const b = await measureSensitivity(fm, seqs, { strategy: wanda(), levels: LEVELS });
    expect(b.blocks).toEqual(a.blocks);
    const around = await measureSensitivity(fm, seqs, { strategy: wanda(), levels: LEVELS, others: 0.5 });
    expect((await measureSensitivity(fm, seqs, { strategy: wanda(), levels: LEVELS, others: 0.5 })).blocks).toEqual(around.blocks);
    expectIntact(fm, before);
    const perBlock = 4 * 16 * 16 + 3 * 16 * 32;
    for (const blk of a.blocks) {
      expect(blk.parameters).toBe(perBlock);
      // More pruning, more KL, on this model at these well-separated levels.
      expect(blk.kl[0]).toBeGreaterThan(0);
      expect(blk.kl[2]).toBeGreaterThan(blk.kl[0]);
    }
    // Wanda is not magnitude: its statistics were used.
    const m = await measureSensitivity(fm, seqs, { strategy: magnitude(), levels: LEVELS });
    expect(m.blocks.map((x) => x.kl)).not.toEqual(a.blocks.map((x) => x.kl));
  });

  test('a block made more important is measured as more sensitive and gets less sparsity', async () => {
    const seqs = sequences(6, 3);
    const plain = tinyModel();
    const planted = tinyModel();
    // Block 1's outputs (attention o and MLP down) 6x larger: its errors weigh 6x more in the residual stream.
    for (const name of ['blocks.1.attn.o.weight', 'blocks.1.mlp.down.weight']) {
      const t = planted.tensor(name);
      planted.setTensor(name, { ...t, data: (t.data as Float32Array).map((v) => 6 * v) });
    }
    const p = await measureSensitivity(plain, seqs, { strategy: wanda(), levels: LEVELS });
    const q = await measureSensitivity(planted, seqs, { strategy: wanda(), levels: LEVELS });
    for (let i = 0; i < LEVELS.length; i++) expect(q.blocks[1].kl[i]).toBeGreaterThan(p.blocks[1].kl[i]);
    const allocate = (c: typeof p) => allocateSparsity(c.levels, c.blocks, { target: 0.5, min: 0.2, max: 0.9 }).sparsity;
    const ap = allocate(p), aq = allocate(q);
    expect(aq[1]).toBeLessThan(ap[1]);
    expect(aq[1]).toBeLessThan(aq[2]);
  });

  test('per-block widths: a block without MLP counts its attention only, a removed block gets a zero curve and no sparsity; OPT with biases', async () => {
    const { config, tensors } = randomModel({ architecture: 'llama', layers: 3, hidden: 16, intermediate: 32, vocab: 37, context: 40, seed: 4 });
    for (const n of [...tensors.keys()]) if (/^blocks\.1\.mlp/.test(n) || n.startsWith('blocks.2.')) tensors.delete(n);
    const shaped = withBlockShapes(config, [
      { numHeads: 4, numKvHeads: 4, intermediateSize: 32 },
      { numHeads: 4, numKvHeads: 4, intermediateSize: 0 },
      { numHeads: 0, numKvHeads: 0, intermediateSize: 0 },
    ]);
    const fm = new ForwardModel({ config: shaped, tensors }, { backend: 'cpu' });
    const c = await measureSensitivity(fm, sequences(4, 7), { strategy: wanda(), levels: LEVELS });
    expect(c.blocks.map((b) => b.parameters)).toEqual([4 * 16 * 16 + 3 * 16 * 32, 4 * 16 * 16, 0]);
    expect(c.blocks[2].kl).toEqual([0, 0, 0]);
    for (const b of [0, 1]) for (const v of c.blocks[b].kl) expect(v).toBeGreaterThan(0);
    const a = allocateSparsity(c.levels, c.blocks, { target: 0.5, min: 0.3, max: 0.9 });
    expect(a.sparsity[2]).toBe(0);
    expect((c.blocks[0].parameters * a.sparsity[0] + c.blocks[1].parameters * a.sparsity[1]) / (c.blocks[0].parameters + c.blocks[1].parameters)).toBeCloseTo(0.5, 12);

    const opt = randomModel({ architecture: 'opt', layers: 2, hidden: 16, intermediate: 32, vocab: 37, context: 40, seed: 5 });
    const o = await measureSensitivity(new ForwardModel(opt, { backend: 'cpu' }), sequences(4, 8), { strategy: wanda(), levels: LEVELS });
    for (const b of o.blocks) {
      expect(b.parameters).toBe(4 * 16 * 16 + 2 * 16 * 32);
      for (const v of b.kl) expect(v).toBeGreaterThan(0);
    }
  });

  test('sparsegpt as the strategy: its X^T X serves every level of a block', async () => {
    const fm = tinyModel();
    const c = await measureSensitivity(fm, sequences(4, 9), { strategy: sparsegpt(), levels: LEVELS });
    for (const b of c.blocks) {
      expect(b.kl[0]).toBeGreaterThan(0);
      expect(b.kl[2]).toBeGreaterThan(b.kl[0]);
    }
  });

  test('cancellation rejects with AbortError and leaves the dense model intact', async () => {
    const fm = tinyModel();
    const before = snapshot(fm);
    const ac = new AbortController();
    const done: number[] = [];
    const run = measureSensitivity(fm, sequences(4, 4), {
      strategy: wanda(), levels: LEVELS, signal: ac.signal,
      onProgress: (d) => { done.push(d); if (d === 2) ac.abort(); },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(done).toEqual([1, 2]);
    expectIntact(fm, before);
  });

  test('bad input is a clear ArgumentRangeError', async () => {
    const fm = tinyModel();
    const seqs = sequences(2, 5);
    await expect(measureSensitivity(fm, seqs, { strategy: wanda(), levels: [] })).rejects.toThrow(/at least one sparsity/);
    await expect(measureSensitivity(fm, seqs, { strategy: wanda(), levels: [0.5, 0.5] })).rejects.toThrow(/increase strictly/);
    await expect(measureSensitivity(fm, seqs, { strategy: wanda(), levels: [1] })).rejects.toThrow(/inside \(0, 1\)/);
    await expect(measureSensitivity(fm, [{ ids: Int32Array.from([1, 2, 3]), answerStart: 3 }], { strategy: wanda(), levels: [0.5] })).rejects.toThrow(/no sequence has an answer position/);
    await expect(measureSensitivity(fm, [{ ids: Int32Array.from([1, 2, 3]), answerStart: 0 }], { strategy: wanda(), levels: [0.5] })).rejects.toThrow(/answerStart 0/);
    await expect(measureSensitivity(fm, [{ ids: new Int32Array(41), answerStart: 1 }], { strategy: wanda(), levels: [0.5] })).rejects.toThrow(/at most 40 tokens/);
    await expect(measureSensitivity(fm, seqs, { strategy: gradient(), levels: [0.5] })).rejects.toThrow(/gradient pass/);
    await expect(measureSensitivity(fm, seqs, { strategy: wanda(), levels: [0.5], others: 1 })).rejects.toThrow(/others/);
  });
});
