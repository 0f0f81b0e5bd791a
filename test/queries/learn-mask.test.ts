// Learning theta block by block (native hcBlockLoss / hcTrainBlock, lib/queries/learn-mask.ts)
// on tiny random Llama, OPT and GPT-2 blocks: the gradient of theta against float64 central
// differences of a float64 reference (the reference block with W_eff = W * z, z the
// hard-concrete gate of the same uniforms); the training is deterministic for a seed and
// any thread count, cancellable, and refuses bad input with typed errors.
import { ArgumentRangeError, ShapeError } from '../../lib/errors';
import { setPoolThreads, poolThreads } from '../../lib/kernels';
import { maskNative, NativeHcLossMatrix } from '../../lib/native/mask';
import { blockKey } from '../../lib/methods/variational-dropout/train-block';
import { answerWeights, LearnBlockData, LearnedBlock, learnBlockTheta } from '../../lib/queries/learn-mask';
import { GRAD_SPECS } from '../backward/gradcheck-models';
import { model } from '../backward/native-helpers';
import { RandomModelSpec } from '../forward/random-model';
import { refBlock, toFloat64 } from '../support/reference-forward';
import { checkCentralDifferences } from '../support/central-difference';
import { rng } from '../support/random';
import { blockData, linearNames, uniforms } from './learn-mask-block';

const BETA = 2 / 3, GAMMA = -0.1, ZETA = 1.1;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** The hard-concrete gate of one weight, float64. */
const gate = (theta: number, u: number) => Math.min(1, Math.max(0, sigmoid((Math.log(u) - Math.log(1 - u) + theta) / BETA) * (ZETA - GAMMA) + GAMMA));
const open = (theta: number) => sigmoid(theta - BETA * Math.log(-GAMMA / ZETA));

interface Objective {
  lambda: number;
  targetDensity: number;
  /** Per matrix (by block key) instead of the block's. */
  targets?: Record<string, number>;
}

/** The float64 loss: weighted MSE of the gated reference block + the density penalty. */
function refLoss(m64: ReturnType<typeof toFloat64>, names: string[], theta: Map<string, Float64Array>, u: Map<string, Float32Array>,
  x: Float64Array, target: Float32Array, w: Float32Array, batch: number, seq: number, o: Objective): number {
  const params = new Map(m64.params);
  for (const name of names) {
    const W = m64.params.get(name)!, th = theta.get(name)!, un = u.get(name)!;
    params.set(name, W.map((v, i) => v * gate(th[i], un[i])));
  }
  const out = refBlock({ config: m64.config, params }, 0, x, batch, seq).out;
  const H = m64.config.hiddenSize;
  let sum = 0, wsum = 0;
  for (let t = 0; t < batch * seq; ++t) {
    wsum += w[t];
    for (let h = 0; h < H; ++h) sum += w[t] * (out[t * H + h] - target[t * H + h]) ** 2;
  }
  const density = (ths: Float64Array[]) => {
    let s = 0, n = 0;
    for (const th of ths) for (const v of th) (s += open(v)), ++n;
    return s / n;
  };
  let penalty = 0;
  if (o.targets) for (const name of names) penalty += o.lambda * (density([theta.get(name)!]) - o.targets[blockKey(name)]) ** 2;
  else penalty = o.lambda * (density(names.map((n) => theta.get(n)!)) - o.targetDensity) ** 2;
  return sum / (wsum * H) + penalty;
}

const CASES: [string, RandomModelSpec, Objective][] = [
  ['llama (GQA, RoPE, SwiGLU)', GRAD_SPECS.llamaGqa, { lambda: 3, targetDensity: 0.4 }],
  ['OPT post-norm (ReLU, biases), per-matrix targets', GRAD_SPECS.optPostNorm,
    { lambda: 2, targetDensity: 0.5, targets: { q: 0.3, k: 0.4, v: 0.5, o: 0.6, up: 0.7, down: 0.2 } }],
  ['GPT-2 (GELU-tanh, biases)', GRAD_SPECS.gpt2, { lambda: 1, targetDensity: 0.6 }],
];

describe.each(CASES)('%s', (_name, spec, objective) => {
  // Tolerance: float32 native gradients against the float64 central difference (h = 1e-6), as
  // the variational block's check; relative to the matrix's largest gradient.
  const TOL = 1e-5;
  test('dLoss/dtheta (weighted MSE + density penalty, uniforms fixed) matches float64 central differences', async () => {
    const m = model(spec);
    const names = linearNames(m, 0);
    const batch = 2, seq = 5;
    const r = rng(31);
    // theta and u keep every gate inside (0, 1), where z moves with theta.
    const d = await blockData(m, names, batch, seq, 32, (name) => uniforms(m.tensors.get(name)!.data.length, r, -0.5, 0.5));
    const target = uniforms(d.targets.length, r, -1, 1);
    const weights = uniforms(batch * seq, r, 0, 2);
    const mats: Record<string, NativeHcLossMatrix & { u: Float32Array; dTheta: Float32Array }> = {};
    const u = new Map<string, Float32Array>(), theta = new Map<string, Float64Array>();
    for (const l of d.layers) {
      const n = l.rows * l.cols;
      const mat = { theta: l.theta, u: uniforms(n, r, 0.3, 0.7), dTheta: new Float32Array(n).fill(NaN) };
      mats[blockKey(l.name)] = mat;
      u.set(l.name, mat.u);
      theta.set(l.name, Float64Array.from(l.theta));
    }
    const got = await maskNative().hcBlockLoss(d.spec, { x: d.inputs, target, weights, batch, seq, mats, ...objective });
    const m64 = toFloat64(m);
    const x = Float64Array.from(d.inputs);
    const loss = () => refLoss(m64, names, theta, u, x, target, weights, batch, seq, objective);
    expect(got.loss).toBeCloseTo(loss(), 5);
    expect(got.loss).toBeCloseTo(got.mse + got.penalty, 12);
    expect(got.penalty).toBeGreaterThan(0);
    const pick = rng(33);
    for (const l of d.layers)
      checkCentralDifferences(mats[blockKey(l.name)].dTheta, theta.get(l.name)!, loss, { label: l.name, tol: TOL, pick });
  });
});

describe('training', () => {
  const m = model(GRAD_SPECS.llamaGqa);
  const names = linearNames(m, 0);
  const data = () => blockData(m, names, 6, 5, 41, (name) => new Float32Array(m.tensors.get(name)!.data.length).fill(1));
  const o = { sparsity: 0.5, steps: 15, batchSequences: 2, seed: 3 };

  test('deterministic for a seed and any thread count; another seed learns other values; the loss falls', async () => {
    const before = poolThreads();
    const runs: { d: LearnBlockData; r: LearnedBlock }[] = [];
    try {
      for (const threads of [1, 2]) {
        setPoolThreads(threads);
        const d = await data();
        runs.push({ d, r: await learnBlockTheta(d, o) });
      }
    } finally {
      setPoolThreads(before);
    }
    const other = await data();
    await learnBlockTheta(other, { ...o, seed: 4 });
    expect(runs[0].r).toEqual(runs[1].r);
    runs[0].d.layers.forEach((l, j) => {
      expect(Buffer.from(l.theta.buffer).equals(Buffer.from(runs[1].d.layers[j].theta.buffer))).toBe(true);
      expect(Buffer.from(l.theta.buffer).equals(Buffer.from(other.layers[j].theta.buffer))).toBe(false);
    });
    // theta0 = 1: expected density 0.93 against a target of 0.5; Adam pulls it down.
    expect(runs[0].r.last.density).toBeLessThan(runs[0].r.first.density);
    expect(runs[0].r.last.loss).toBeLessThan(runs[0].r.first.loss);
    expect(runs[0].r.mseMean).toBeGreaterThanOrEqual(0);
  });

  test('token weights: all 1 is the unweighted loss; answerWeights weighs the answer rows and zeroes the padding', async () => {
    const d = await data();
    const plain = await learnBlockTheta(d, o);
    const e = await data();
    const weighted = await learnBlockTheta({ ...e, tokenWeights: new Float32Array(6 * 5).fill(1) }, o);
    expect(weighted).toEqual(plain);
    const w = answerWeights([{ ids: [1, 2, 3, 4], answerStart: 2 }, { ids: [5, 6, 7, 8, 9], answerStart: 4 }], 5, { answer: 4 });
    expect(Array.from(w)).toEqual([1, 4, 4, 1, 0, 1, 1, 1, 4, 1]);
  });

  test('a minibatch whose tokens all weigh 0 teaches nothing and fails nothing', async () => {
    // Sequences 0-4 weigh 0, sequence 5 weighs 1: with one sequence per step most steps see weight 0 only.
    const d = await data();
    const weights = new Float32Array(6 * 5);
    weights.fill(1, 5 * 5);
    const r = await learnBlockTheta({ ...d, tokenWeights: weights }, { ...o, batchSequences: 1 });
    expect(Number.isFinite(r.mseMean)).toBe(true);
  });

  test('cancellable: an abort stops the training between steps with the signal reason', async () => {
    const ac = new AbortController();
    const long = learnBlockTheta(await data(), { ...o, steps: 1_000_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop here')), 50);
    const t0 = Date.now();
    await expect(long).rejects.toThrow('stop here');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('E_NONFINITE when the loss stops being finite', async () => {
    const d = await data();
    d.targets[3] = Infinity;
    await expect(learnBlockTheta(d, o)).rejects.toMatchObject({ code: 'E_NONFINITE' });
  });

  test('refusals: sparsity, per-matrix targets, gate, shapes, all-zero token weights', async () => {
    const d = await data();
    await expect(learnBlockTheta(d, { ...o, sparsity: 1 })).rejects.toThrow(ArgumentRangeError);
    await expect(learnBlockTheta(d, { ...o, matrixSparsity: new Map([[names[0], 0.5]]) })).rejects.toThrow(/matrixSparsity has no entry/);
    await expect(learnBlockTheta(d, { ...o, gamma: 0.1 })).rejects.toThrow(/gamma < 0/);
    await expect(learnBlockTheta(d, { ...o, lambda: -1 })).rejects.toThrow(/lambda/);
    await expect(learnBlockTheta({ ...d, layers: [{ ...d.layers[0], theta: new Float32Array(3) }] }, o)).rejects.toThrow(ShapeError);
    await expect(learnBlockTheta({ ...d, layers: [d.layers[0], d.layers[0]] }, o)).rejects.toThrow(/given twice/);
    await expect(learnBlockTheta({ ...d, tokenWeights: new Float32Array(30) }, o)).rejects.toThrow(/sum to 0/);
    await expect(learnBlockTheta({ ...d, tokenWeights: new Float32Array(30).fill(-1) }, o)).rejects.toThrow(/token weight 0 is not a finite number >= 0/);
    await expect(learnBlockTheta({ ...d, layers: [{ ...d.layers[0], name: 'blocks.0.attn_norm.weight' }] }, o)).rejects.toThrow(ShapeError);
  });
});
