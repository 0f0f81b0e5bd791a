// The variational block (native vdBlockMse / vdTrainBlock, native/cpu/vd_block.h) on tiny
// random Llama, OPT and GPT-2 blocks: with eps = 0 it is the dense block bit for bit and
// its noise path adds nothing to any gradient; its gradients of theta and log sigma^2
// against float64 central differences of a float64 reference (reference-block.ts); the
// training is deterministic for a seed and any thread count, and cancellable.
import { ForwardModel } from '../../lib/forward/model';
import { setPoolThreads, poolThreads } from '../../lib/kernels';
import { vdSettings } from '../../lib/methods/variational-dropout/options';
import { trainBlock } from '../../lib/methods/variational-dropout/train-block';
import { LoadedModel } from '../../lib/model/types';
import { NativeVdMseMatrix, VD_BLOCK_KEYS, VdBlockKey } from '../../lib/native/vd-block';
import { vdNative } from '../../lib/native/vd';
import { GRAD_SPECS } from '../backward/gradcheck-models';
import { model } from '../backward/native-helpers';
import { RandomModelSpec } from '../forward/random-model';
import { toFloat64 } from '../support/reference-forward';
import { checkCentralDifferences } from '../support/central-difference';
import { rng } from '../support/random';
import { refVariationalBlock, refVariationalMse, RefVariational } from './reference-block';

const batch = 2, seq = 5;
const CASES: [string, RandomModelSpec][] = [
  ['llama (GQA, RoPE, SwiGLU)', GRAD_SPECS.llamaGqa],
  ['OPT post-norm (ReLU, biases)', GRAD_SPECS.optPostNorm],
  ['GPT-2 (GELU-tanh, biases)', GRAD_SPECS.gpt2],
];

/** The block's weight names by key (fc1 / fc2 as up / down). */
function weightNames(m: LoadedModel, i: number): Partial<Record<VdBlockKey, string>> {
  const p = `blocks.${i}`;
  const gated = m.tensors.has(`${p}.mlp.gate.weight`);
  const out: Partial<Record<VdBlockKey, string>> = {
    q: `${p}.attn.q.weight`, k: `${p}.attn.k.weight`, v: `${p}.attn.v.weight`, o: `${p}.attn.o.weight`,
    up: `${p}.mlp.${gated ? 'up' : 'fc1'}.weight`, down: `${p}.mlp.${gated ? 'down' : 'fc2'}.weight`,
  };
  if (gated) out.gate = `${p}.mlp.gate.weight`;
  return out;
}

const randoms = (n: number, r: () => number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());

/** Every matrix of block 0 variational: theta = the dense weights, log sigma^2 uniform in [lo, hi]. */
function variational(m: LoadedModel, r: () => number, lo: number, hi: number) {
  const mats: Partial<Record<VdBlockKey, NativeVdMseMatrix & { dTheta: Float32Array; dLogSigma2: Float32Array; eps: Float32Array }>> = {};
  for (const [key, name] of Object.entries(weightNames(m, 0)) as [VdBlockKey, string][]) {
    const t = m.tensors.get(name)!;
    const n = t.data.length;
    mats[key] = {
      theta: Float32Array.from(t.data as Float32Array), logSigma2: randoms(n, r, lo, hi),
      dTheta: new Float32Array(n).fill(NaN), dLogSigma2: new Float32Array(n).fill(NaN), eps: new Float32Array(batch * seq * t.shape[0]),
    };
  }
  return mats;
}

function inputs(m: LoadedModel, seed: number) {
  const r = rng(seed);
  const n = batch * seq * m.config.hiddenSize;
  return { r, x: randoms(n, r, -1, 1), target: randoms(n, r, -1, 1) };
}

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || (v === 0 && b[i] === 0));

describe.each(CASES)('%s', (_name, spec) => {
  test('eps = 0: the output is the dense block bit for bit, and the noise path adds nothing to any gradient', async () => {
    const m = model(spec);
    const fm = new ForwardModel(m);
    const { r, x, target } = inputs(m, 11);
    const dense = Float32Array.from(x);
    await fm.runBlock(0, dense, { batch, seq });
    const runs = [];
    // The same theta with two different log sigma^2: without noise nothing may depend on it.
    for (const [lo, hi] of [[-10, -10], [-3, 1]]) {
      const mats = variational(m, r, lo, hi);
      const out = new Float32Array(x.length);
      const mse = await vdNative().vdBlockMse(fm.blockSpec(0), { x, target, batch, seq, seed: 1, noise: false, out, mats });
      expect(sameBits(out, dense)).toBe(true);
      let ref = 0;
      // The native error squares float32 differences, summed in float64.
      for (let j = 0; j < out.length; ++j) ref += Math.fround(out[j] - target[j]) ** 2;
      expect(mse).toBeCloseTo(ref / out.length, 12);
      for (const v of Object.values(mats)) {
        expect(v.dLogSigma2.every((g) => g === 0)).toBe(true);
        expect(v.eps.every((e) => e === 0)).toBe(true);
      }
      runs.push(mats);
    }
    for (const key of Object.keys(runs[0]) as VdBlockKey[]) expect(sameBits(runs[0][key]!.dTheta, runs[1][key]!.dTheta)).toBe(true);
  });

  // Tolerance: the native gradients are float32 (rounding of about 1e-7 relative per op,
  // over a dozen chained ops); the float64 central difference with h = 1e-6 is exact to
  // ~1e-9. Measured worst errors (GRADCHECK_REPORT=1): 3.6e-7 (Llama), 5.4e-7 (OPT),
  // 7.9e-7 (GPT-2), relative to the tensor's largest gradient; a wrong or missing term
  // moves a gradient by its own size.
  const TOL = 1e-5;
  test('theta and log sigma^2 gradients (with noise) match float64 central differences of the reference', async () => {
    const m = model(spec);
    const fm = new ForwardModel(m);
    const { r, x, target } = inputs(m, 12);
    const mats = variational(m, r, -4, -1);
    const out = new Float32Array(x.length);
    await vdNative().vdBlockMse(fm.blockSpec(0), { x, target, batch, seq, seed: 5, noise: true, out, mats });
    const m64 = toFloat64(m);
    const h = Float64Array.from(x);
    const vars: Partial<Record<VdBlockKey, RefVariational>> = {};
    for (const [key, v] of Object.entries(mats) as [VdBlockKey, (typeof mats)[VdBlockKey] & object][]) {
      expect(v.eps.some((e) => e !== 0)).toBe(true);
      vars[key] = { theta: Float64Array.from(v.theta), logSigma2: Float64Array.from(v.logSigma2), eps: Float64Array.from(v.eps) };
    }
    const refOut = refVariationalBlock(m64, 0, h, batch, seq, vars);
    refOut.forEach((v, j) => expect(Math.abs(out[j] - v)).toBeLessThan(1e-5 * (1 + Math.abs(v))));
    const loss = () => refVariationalMse(m64, 0, h, batch, seq, vars, target);
    const pick = rng(13);
    let worst = 0;
    for (const [key, v] of Object.entries(mats) as [VdBlockKey, (typeof mats)[VdBlockKey] & object][])
      for (const [which, g] of [['theta', v.dTheta], ['logSigma2', v.dLogSigma2]] as const)
        worst = Math.max(worst, checkCentralDifferences(g, vars[key]![which], loss, { label: `${key}.${which}`, tol: TOL, pick }));
    if (process.env.GRADCHECK_REPORT) console.log(`${_name}: worst relative error ${worst.toExponential(2)}`);
  });
});

describe('training', () => {
  const m = model(GRAD_SPECS.llamaGqa);
  const fm = new ForwardModel(m);
  const layers = Object.values(weightNames(m, 0)).map((name) => ({ name: name!, rows: m.tensors.get(name!)!.shape[0], cols: m.tensors.get(name!)!.shape[1] }));
  const sequences = 6;
  const r = rng(21);
  const H = m.config.hiddenSize;
  const data = { spec: fm.blockSpec(0), layers, inputs: randoms(sequences * seq * H, r, -1, 1), targets: new Float32Array(sequences * seq * H), sequences, seq };
  beforeAll(async () => {
    data.targets.set(data.inputs);
    await fm.runBlock(0, data.targets, { batch: sequences, seq });
  });
  const s = vdSettings({ steps: 12, batchSequences: 2 });

  test('deterministic for a seed and any thread count; another seed draws other noise', async () => {
    const before = poolThreads();
    const runs = [];
    try {
      for (const threads of [1, 2]) {
        setPoolThreads(threads);
        runs.push(await trainBlock(data, s, 3));
      }
    } finally {
      setPoolThreads(before);
    }
    const other = await trainBlock(data, s, 4);
    expect(runs[0].mseLast).toBe(runs[1].mseLast);
    expect(runs[0].mseMean).toBe(runs[1].mseMean);
    for (const { name } of layers) {
      const [a, b, c] = [runs[0], runs[1], other].map((t) => t.matrices.get(name)!);
      expect(sameBits(a.theta, b.theta)).toBe(true);
      expect(sameBits(a.logSigma2, b.logSigma2)).toBe(true);
      expect(sameBits(a.logSigma2, c.logSigma2)).toBe(false);
    }
  });

  test('learning: log sigma^2 moves from its start, the reconstruction is reported, every key learned', async () => {
    const t = await trainBlock(data, s, 3);
    // The targets are the dense block's outputs: theta starts exact, so the only error is the noise's.
    expect(t.mseFirst).toBeGreaterThan(0);
    expect(t.mseMean).toBeLessThan(t.mseFirst);
    for (const key of VD_BLOCK_KEYS) expect(layers.some((l) => l.name.includes(`.${key}.`))).toBe(true);
    for (const { name } of layers) {
      const mt = t.matrices.get(name)!;
      expect(mt.logSigma2.every((v) => v !== -10)).toBe(true);
      expect(mt.histogram.reduce((a, c) => a + c, 0)).toBe(mt.theta.length);
      expect(mt.kl).toBeGreaterThan(0);
    }
  });

  test('cancellable: an abort stops the training between steps with the signal reason', async () => {
    const ac = new AbortController();
    const long = trainBlock(data, vdSettings({ steps: 1_000_000, batchSequences: 2 }), 3, ac.signal);
    setTimeout(() => ac.abort(new Error('stop here')), 50);
    const t0 = Date.now();
    await expect(long).rejects.toThrow('stop here');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('refusals: a matrix the block lacks, no matrix at all, wrong sizes', async () => {
    const spec = fm.blockSpec(0);
    const base = { x: data.inputs.subarray(0, batch * seq * H), target: data.targets.subarray(0, batch * seq * H), batch, seq, seed: 0, noise: true };
    // Argument errors are thrown by the call itself, before any promise.
    const refused = (f: () => Promise<unknown>) => expect(Promise.resolve().then(f)).rejects;
    const opt = model(GRAD_SPECS.gpt2);
    const n = opt.tensors.get('blocks.0.mlp.fc1.weight')!.data.length;
    await refused(() => vdNative().vdBlockMse(new ForwardModel(opt).blockSpec(0), { ...base, mats: { gate: { theta: new Float32Array(n), logSigma2: new Float32Array(n) } } })).toThrow(/mats.gate is given but the block has no such matrix/);
    await refused(() => vdNative().vdBlockMse(spec, { ...base, mats: {} })).toThrow(/names no matrix/);
    await refused(() => vdNative().vdBlockMse(spec, { ...base, mats: { q: { theta: new Float32Array(3), logSigma2: new Float32Array(3) } } })).toThrow(/mats.q.theta/);
  });
});
