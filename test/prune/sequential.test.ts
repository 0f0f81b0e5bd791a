// The sequential layer-wise protocol (shared/notes/protocols.md), checked against a
// plain reference: for each block, its calibration inputs come from the embedding
// through the already *pruned* earlier blocks (recomputed from scratch, one sequence at
// a time); Wanda's ||X_j|| per input column; per row, the floor(s * cols) lowest
// |W_ij| * ||X_j|| pruned, ties to the lower column. Selection and norms in TypeScript.
import { CalibrationSet } from '../../lib/calibration/sample';
import { ForwardModel } from '../../lib/forward/model';
import { LoadedModel, Tensor } from '../../lib/model/types';
import { runPipeline } from '../../lib/prune/pipeline';
import { sparsegpt, wanda } from '../../lib/strategies';
import { randomModel, rng } from '../forward/random-model';

type Arch = 'llama' | 'opt' | 'gpt2';
const INPUT: Record<string, 'attnIn' | 'oIn' | 'mlpIn' | 'downIn'> = {
  'attn.q': 'attnIn',
  'attn.k': 'attnIn',
  'attn.v': 'attnIn',
  'attn.o': 'oIn',
  'mlp.gate': 'mlpIn',
  'mlp.up': 'mlpIn',
  'mlp.fc1': 'mlpIn',
  'mlp.down': 'downIn',
  'mlp.fc2': 'downIn',
};

function model(architecture: Arch): { config: LoadedModel['config']; tensors: Map<string, Tensor> } {
  return randomModel({ architecture, layers: 3, hidden: 16, intermediate: 40, heads: 4, kvHeads: architecture === 'llama' ? 2 : 4, vocab: 37, seed: 7 });
}

function asLoaded(m: ReturnType<typeof model>): LoadedModel {
  return { format: 'hf', path: '/nonexistent', config: m.config, tensors: m.tensors, tokenizer: { kind: 'none', reason: 'test' }, meta: {}, close() {} };
}

function clone(tensors: Map<string, Tensor>): Map<string, Tensor> {
  return new Map([...tensors].map(([k, t]) => [k, { ...t, shape: t.shape.slice(), data: t.data.slice() }]));
}

function linears(m: ReturnType<typeof model>, b: number): string[] {
  return Object.keys(INPUT)
    .map((p) => `blocks.${b}.${p}.weight`)
    .filter((n) => m.tensors.has(n));
}

/** Zeroes, per row, the floor(s * cols) lowest |w| * norm (ties: lower column first). */
function wandaReference(t: Tensor, norms: Float32Array, s: number): void {
  const [rows, cols] = t.shape;
  const k = Math.floor(s * cols);
  const w = t.data as Float32Array;
  for (let r = 0; r < rows; r++) {
    const score = (j: number) => Math.fround(Math.abs(w[r * cols + j]) * norms[j]);
    const order = Array.from({ length: cols }, (_, j) => j).sort((a, b) => score(a) - score(b) || a - b);
    for (const j of order.slice(0, k)) w[r * cols + j] = 0;
  }
}

/** The protocol, spelled out; `sequential: false` takes every block's statistics from the dense model. */
async function reference(m: ReturnType<typeof model>, cal: CalibrationSet, s: number, sequential = true): Promise<Map<string, Tensor>> {
  const pruned = clone(m.tensors);
  const fm = new ForwardModel({ config: m.config, tensors: sequential ? pruned : clone(m.tensors) });
  const L = cal.seqLen;
  for (let b = 0; b < m.config.numLayers; b++) {
    const sumSq: Record<string, Float64Array> = {};
    for (let q = 0; q < cal.samples; q++) {
      const hidden = await fm.embed(cal.tokens.subarray(q * L, (q + 1) * L), 1, L);
      for (let j = 0; j < b; j++) await fm.runBlock(j, hidden, { batch: 1, seq: L });
      const caps = fm.allocCaptures(L);
      await fm.runBlock(b, hidden, { batch: 1, seq: L, capture: caps });
      for (const [name, x] of Object.entries(caps) as [string, Float32Array][]) {
        const cols = x.length / L;
        const acc = (sumSq[name] ??= new Float64Array(cols));
        for (let i = 0; i < x.length; i++) acc[i % cols] += x[i] * x[i];
      }
    }
    for (const n of linears(m, b)) {
      const part = n.slice(`blocks.${b}.`.length, -'.weight'.length);
      wandaReference(pruned.get(n)!, Float32Array.from(sumSq[INPUT[part]], Math.sqrt), s);
    }
  }
  return pruned;
}

function mismatches(a: Map<string, Tensor>, b: Map<string, Tensor>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [n, t] of a) {
    let d = 0;
    const u = b.get(n)!;
    for (let i = 0; i < t.data.length; i++) if ((t.data[i] === 0) !== (u.data[i] === 0)) d++;
    if (d > 0) out[n] = d;
  }
  return out;
}

const K = 4;
const L = 24;
function calibration(vocab: number): CalibrationSet {
  const r = rng(19);
  const tokens = Int32Array.from({ length: K * L }, () => Math.floor(r() * vocab));
  return { tokens, samples: K, seqLen: L, sampling: 'contiguous', seed: 0, packed: false, notes: [] };
}

describe.each(['llama', 'opt', 'gpt2'] as const)('wanda through the sequential pipeline (%s)', (arch) => {
  let ref: Map<string, Tensor>;
  beforeAll(async () => {
    const m = model(arch);
    ref = await reference(m, calibration(m.config.vocabSize), 0.5);
  });

  test.each([undefined, 1, 3])('batch %s: the same masks as the reference', async (batch) => {
    const m = model(arch);
    const r = await runPipeline(asLoaded(m), { strategy: wanda(), sparsity: 0.5, calibration: calibration(m.config.vocabSize), batch });
    expect(r.layers).toHaveLength(m.config.numLayers * (arch === 'llama' ? 7 : 6));
    expect(mismatches(ref, m.tensors)).toEqual({});
  });

  test('statistics from the dense model instead would differ after block 0 (the check has teeth)', async () => {
    const m = model(arch);
    const oneShot = await reference(m, calibration(m.config.vocabSize), 0.5, false);
    const diff = mismatches(ref, oneShot);
    expect(Object.keys(diff).some((n) => n.startsWith('blocks.0.'))).toBe(false);
    expect(Object.keys(diff).length).toBeGreaterThan(0);
  });
});

describe.each(['llama', 'opt', 'gpt2'] as const)('sparsegpt through the pipeline (%s)', (arch) => {
  test('every matrix (narrower than one 128-column block) loses exactly floor(s * rows * cols)', async () => {
    const m = model(arch);
    const before = clone(m.tensors);
    const r = await runPipeline(asLoaded(m), { strategy: sparsegpt(), sparsity: 0.5, calibration: calibration(m.config.vocabSize), batch: 3 });
    expect(r.layers).toHaveLength(m.config.numLayers * (arch === 'llama' ? 7 : 6));
    for (const l of r.layers) {
      const t = m.tensors.get(l.name)!;
      const zeros = (t.data as Float32Array).reduce((z, v) => z + (v === 0 ? 1 : 0), 0);
      expect({ n: l.name, zeros }).toEqual({ n: l.name, zeros: Math.floor(0.5 * t.data.length) });
      expect(l.pruned).toBe(zeros);
    }
    // Everything else (embeddings, norms, biases, LM head) untouched.
    for (const [n, t] of before)
      if (!r.layers.some((l) => l.name === n)) expect({ n, same: Buffer.compare(Buffer.from(t.data.buffer), Buffer.from(m.tensors.get(n)!.data.buffer)) }).toEqual({ n, same: 0 });
  });
});

// Inputs that never fire (H_jj = 0) get their weight columns zeroed (protocol): ReLU
// (OPT) with 4 calibration tokens leaves many fc2 inputs dead, even at sparsity 0.
async function deadInputsRun(): Promise<{ pruned: number; zeros: number }> {
  const m = randomModel({ architecture: 'opt', layers: 1, hidden: 16, intermediate: 64, heads: 4, vocab: 37, seed: 3 });
  const cal: CalibrationSet = { tokens: Int32Array.from([1, 2, 3, 4]), samples: 1, seqLen: 4, sampling: 'contiguous', seed: 0, packed: false, notes: [] };
  const r = await runPipeline(asLoaded(m), { strategy: sparsegpt(), sparsity: 0, calibration: cal });
  const fc2 = r.layers.find((l) => l.name === 'blocks.0.mlp.fc2.weight')!;
  return { pruned: fc2.pruned, zeros: (m.tensors.get(fc2.name)!.data as Float32Array).reduce((z, v) => z + (v === 0 ? 1 : 0), 0) };
}

test('sparsegpt zeroes the weights of dead inputs (H_jj = 0), whole columns of fc2 here', async () => {
  const { zeros } = await deadInputsRun();
  expect(zeros).toBeGreaterThan(0);
  expect(zeros % 16).toBe(0); // whole columns of a 16-row matrix
});

// Dead inputs are zeroed by SparseGPT: they count as pruned in the mask and the report.
test('sparsegpt: the reported pruned count equals the zeros written, also with dead inputs', async () => {
  const { pruned, zeros } = await deadInputsRun();
  expect(pruned).toBe(zeros);
});
