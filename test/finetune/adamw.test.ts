// The native AdamW step (native/cpu/adamw.cc) against the TypeScript reference: plain,
// with weight decay, a keep-mask, the EWC term, f16/bf16 storage with a float32 master,
// the same bits for 1 and 2 threads, and its argument checks.
import { convertDType, poolThreads, setPoolThreads } from '../../lib/kernels';
import { optimNative, NativeAdamWOptions } from '../../lib/native/optim';
import { rng } from '../support/random';
import { refAdamWStep, RefHyper } from './adamw-reference';

const N = 70003; // not a multiple of 8 (mask tail) and more than one parallel chunk
const H: RefHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

function randoms(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function keepMask(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const bits = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; ++i) if (r() < 0.5) bits[i >> 3] |= 1 << (i & 7);
  return bits;
}

const bit = (bits: Uint8Array) => (i: number) => ((bits[i >> 3] >> (i & 7)) & 1) === 1;

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; ++i) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

async function nativeSteps(
  w0: Float32Array,
  grads: Float32Array[],
  opts: Omit<NativeAdamWOptions, 'step'>,
): Promise<{ w: Float32Array; m: Float32Array; v: Float32Array }> {
  const w = w0.slice();
  const m = new Float32Array(w.length);
  const v = new Float32Array(w.length);
  for (let t = 1; t <= grads.length; ++t) await optimNative().adamwStep({ data: w, dtype: 'f32' }, grads[t - 1], { m, v }, { ...opts, step: t });
  return { w, m, v };
}

function refSteps(w0: Float32Array, grads: Float32Array[], keep?: Uint8Array, ewc?: Parameters<typeof refAdamWStep>[5]) {
  const s = { w: w0.slice(), m: new Float32Array(w0.length), v: new Float32Array(w0.length) };
  grads.forEach((g, k) => refAdamWStep(s, g, k + 1, H, keep ? bit(keep) : undefined, ewc));
  return s;
}

describe('native AdamW step', () => {
  const w0 = randoms(N, 1);
  const grads = [2, 3, 4, 5, 6].map((s) => randoms(N, s, 1e-2));

  it('equals the reference over 5 steps (weights, moments) with weight decay', async () => {
    const got = await nativeSteps(w0, grads, H);
    const ref = refSteps(w0, grads);
    expect(relErr(got.w, ref.w)).toBeLessThan(1e-6);
    expect(relErr(got.m, ref.m)).toBeLessThan(1e-6);
    expect(relErr(got.v, ref.v)).toBeLessThan(1e-6);
    // it moved: about lr per step (Adam's step is ~lr in size)
    expect(relErr(got.w, w0)).toBeGreaterThan(1e-2);
  });

  it('holds masked weights at exactly zero with zero moments, and never zeroes a kept weight', async () => {
    const keep = keepMask(N, 7);
    const masked = w0.map((x, i) => (bit(keep)(i) ? x : 0));
    const got = await nativeSteps(masked, grads, { ...H, keep });
    const ref = refSteps(masked, grads, keep);
    expect(relErr(got.w, ref.w)).toBeLessThan(1e-6);
    let pruned = 0;
    for (let i = 0; i < N; ++i) {
      if (bit(keep)(i)) {
        if (got.w[i] === 0) throw new Error(`kept weight ${i} became zero`);
        continue;
      }
      ++pruned;
      if (got.w[i] !== 0 || got.m[i] !== 0 || got.v[i] !== 0) throw new Error(`masked weight ${i} moved: ${got.w[i]} ${got.m[i]} ${got.v[i]}`);
    }
    expect(pruned).toBeGreaterThan(N / 3);
  });

  it('adds the EWC term lambda * F * (w - w*) to the gradient', async () => {
    const fisher = randoms(N, 11).map(Math.abs);
    const anchor = randoms(N, 12);
    const ewc = { lambda: 3, fisher, anchor };
    const got = await nativeSteps(w0, grads, { ...H, ewc });
    const ref = refSteps(w0, grads, undefined, ewc);
    expect(relErr(got.w, ref.w)).toBeLessThan(1e-6);
    const plain = await nativeSteps(w0, grads, H);
    expect(relErr(got.w, plain.w)).toBeGreaterThan(1e-3);
    // lambda 0 is exactly the plain step
    const zero = await nativeSteps(w0, grads, { ...H, ewc: { lambda: 0, fisher, anchor } });
    expect(Buffer.from(zero.w.buffer).equals(Buffer.from(plain.w.buffer))).toBe(true);
  });

  it.each(['f16', 'bf16'] as const)('%s storage: the float32 master follows the reference and the stored values are its rounding', async (dtype) => {
    const keep = keepMask(N, 9);
    const start = (await convertDType(w0.map((x, i) => (bit(keep)(i) ? x : 0)), 'f32', dtype)) as Uint16Array;
    const master = (await convertDType(start, dtype, 'f32')) as Float32Array;
    const ref = refSteps(master, grads, keep);
    const data = start.slice();
    const state = { m: new Float32Array(N), v: new Float32Array(N), master: master.slice() };
    for (let t = 1; t <= grads.length; ++t) await optimNative().adamwStep({ data, dtype }, grads[t - 1], state, { ...H, keep, step: t });
    expect(relErr(state.master, ref.w)).toBeLessThan(1e-6);
    const rounded = (await convertDType(state.master, 'f32', dtype)) as Uint16Array;
    let nudged = 0;
    for (let i = 0; i < N; ++i) {
      if (!bit(keep)(i)) {
        if (data[i] !== 0) throw new Error(`masked element ${i} is ${data[i]}`);
        continue;
      }
      if ((rounded[i] & 0x7fff) === 0) {
        // rounds to zero: stored as the smallest nonzero value instead, so the zeros stay the mask
        if ((data[i] & 0x7fff) !== 1) throw new Error(`element ${i} rounds to zero but is stored as ${data[i]}`);
        ++nudged;
      } else if (data[i] !== rounded[i]) throw new Error(`element ${i}: stored ${data[i]}, rounding of the master ${rounded[i]}`);
    }
    expect(nudged).toBeLessThan(N / 100);
  });

  it('gives the same bits for 1 and 2 threads', async () => {
    const before = poolThreads();
    try {
      setPoolThreads(1);
      const one = await nativeSteps(w0, grads, { ...H, keep: keepMask(N, 3) });
      setPoolThreads(2);
      const two = await nativeSteps(w0, grads, { ...H, keep: keepMask(N, 3) });
      expect(Buffer.from(one.w.buffer).equals(Buffer.from(two.w.buffer))).toBe(true);
      expect(Buffer.from(one.v.buffer).equals(Buffer.from(two.v.buffer))).toBe(true);
    } finally {
      setPoolThreads(before);
    }
  });

  it('refuses bad arguments with typed errors before touching memory', async () => {
    const w = new Float32Array(8);
    const s = { m: new Float32Array(8), v: new Float32Array(8) };
    const g = new Float32Array(8);
    const call = (o: Partial<NativeAdamWOptions>, grad = g, state: typeof s & { master?: Float32Array } = s, param: { data: Float32Array | Uint16Array; dtype: 'f32' | 'f16' } = { data: w, dtype: 'f32' }) =>
      Promise.resolve().then(() => optimNative().adamwStep(param, grad, state, { step: 1, lr: 1e-3, ...o }));
    await expect(call({ lr: -1 })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(call({ lr: NaN })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(call({ step: 0 })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(call({ eps: 0 })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(call({ beta1: 1 })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(call({}, new Float32Array(7))).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(call({ keep: new Uint8Array(2) })).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(call({ ewc: { lambda: 1, fisher: new Float32Array(8), anchor: new Float32Array(3) } })).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(call({}, g, s, { data: new Uint16Array(8), dtype: 'f16' })).rejects.toMatchObject({ code: 'E_DTYPE' });
    expect([...w]).toEqual(new Array(8).fill(0));
  });
});
