// The variational linear layer (native vdLinearForward / vdLinearBackward) against a
// float64 reference (./reference.ts), and the reference's gradients against central
// finite differences: the local reparameterization trick's forward and backward.
import { poolThreads, setPoolThreads } from '../../lib/kernels';
import { vdNative } from '../../lib/native/vd';
import { rng } from '../support/random';
import { refBackward, refForward, VdCase } from './reference';

function randomCase(n: number, inDim: number, out: number, seed: number): VdCase {
  const r = rng(seed);
  const u = (len: number, lo: number, hi: number) => Float64Array.from({ length: len }, () => lo + (hi - lo) * r());
  // Box-Muller normals for eps.
  const eps = Float64Array.from({ length: n * out }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
  return { n, in: inDim, out, x: u(n * inDim, -1, 1), theta: u(out * inDim, -0.5, 0.5), logSigma2: u(out * inDim, -6, -1), eps };
}

const f32 = (a: Float64Array) => Float32Array.from(a);

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

test('forward: native = float64 reference, with noise and as the mean network', async () => {
  // 37 x 70 -> 45: not multiples of any SIMD width or tile.
  const c = randomCase(37, 70, 45, 1);
  const y = new Float32Array(c.n * c.out), std = new Float32Array(c.n * c.out);
  const args = { n: c.n, in: c.in, out: c.out, x: f32(c.x), theta: f32(c.theta), logSigma2: f32(c.logSigma2) };
  await vdNative().vdLinearForward({ ...args, eps: f32(c.eps), y, std });
  // float32 inputs, float32 accumulation over 70 terms: relative error ~1e-6.
  expect(relErr(y, refForward({ ...c, x: Float64Array.from(args.x), theta: Float64Array.from(args.theta), logSigma2: Float64Array.from(args.logSigma2), eps: Float64Array.from(f32(c.eps)) }))).toBeLessThan(1e-5);
  const mean = new Float32Array(c.n * c.out);
  await vdNative().vdLinearForward({ ...args, y: mean });
  expect(relErr(mean, refForward({ ...c, eps: new Float64Array(c.n * c.out) }))).toBeLessThan(1e-5);
  // The noise path is really there: y - mean = std * eps.
  expect(relErr(y.map((v, i) => v - mean[i]), std.map((s, i) => s * Math.fround(c.eps[i])))).toBeLessThan(1e-4);
});

test('reference backward = central finite differences of sum(dy * y) (float64)', () => {
  const c = randomCase(5, 6, 4, 2);
  const dy = randomCase(5, 1, 4, 3).eps;
  const g = refBackward(c, dy);
  const loss = (k: VdCase) => refForward(k).reduce((s, v, i) => s + v * dy[i], 0);
  const h = 1e-5;
  for (const [name, grad] of [['x', g.dx], ['theta', g.dTheta], ['logSigma2', g.dLogSigma2]] as const) {
    const p = c[name];
    const fd = Float64Array.from(p, (_, i) => {
      const save = p[i];
      p[i] = save + h;
      const up = loss(c);
      p[i] = save - h;
      const down = loss(c);
      p[i] = save;
      return (up - down) / (2 * h);
    });
    // Central differences in float64: O(h^2) ~ 1e-10 relative.
    expect(relErr(grad, fd)).toBeLessThan(1e-7);
  }
});

test('backward: native = float64 reference (dx, dTheta, dLogSigma2), accumulating into dTheta / dLogSigma2', async () => {
  const c = randomCase(33, 50, 29, 4);
  const dy = randomCase(33, 1, 29, 5).eps;
  const args = { n: c.n, in: c.in, out: c.out, x: f32(c.x), theta: f32(c.theta), logSigma2: f32(c.logSigma2) };
  const eps = f32(c.eps);
  const y = new Float32Array(c.n * c.out), std = new Float32Array(c.n * c.out);
  await vdNative().vdLinearForward({ ...args, eps, y, std });
  const dx = new Float32Array(c.n * c.in).fill(7); // overwritten
  const dTheta = new Float32Array(c.out * c.in).fill(1); // accumulated
  const dLogSigma2 = new Float32Array(c.out * c.in).fill(-1);
  await vdNative().vdLinearBackward({ ...args, eps, std, dy: f32(dy), dx, dTheta, dLogSigma2 });
  const exact = { ...c, x: Float64Array.from(args.x), theta: Float64Array.from(args.theta), logSigma2: Float64Array.from(args.logSigma2), eps: Float64Array.from(eps) };
  const ref = refBackward(exact, Float64Array.from(f32(dy)));
  expect(relErr(dx, ref.dx)).toBeLessThan(1e-5);
  expect(relErr(dTheta.map((v) => v - 1), ref.dTheta)).toBeLessThan(1e-5);
  expect(relErr(dLogSigma2.map((v) => v + 1), ref.dLogSigma2)).toBeLessThan(1e-5);
});

test('the same bits for any thread count', async () => {
  const c = randomCase(300, 64, 80, 6);
  const run = async () => {
    const args = { n: c.n, in: c.in, out: c.out, x: f32(c.x), theta: f32(c.theta), logSigma2: f32(c.logSigma2), eps: f32(c.eps) };
    const y = new Float32Array(c.n * c.out), std = new Float32Array(c.n * c.out);
    await vdNative().vdLinearForward({ ...args, y, std });
    const dLogSigma2 = new Float32Array(c.out * c.in);
    await vdNative().vdLinearBackward({ ...args, std, dy: y, dLogSigma2 });
    return [y, dLogSigma2];
  };
  const before = poolThreads();
  try {
    setPoolThreads(1);
    const one = await run();
    setPoolThreads(4);
    const four = await run();
    expect(Buffer.from(four[0].buffer).equals(Buffer.from(one[0].buffer))).toBe(true);
    expect(Buffer.from(four[1].buffer).equals(Buffer.from(one[1].buffer))).toBe(true);
  } finally {
    setPoolThreads(before);
  }
});

test('bad arguments are typed errors naming the array', async () => {
  const base = { n: 2, in: 3, out: 4, x: new Float32Array(6), theta: new Float32Array(12), logSigma2: new Float32Array(12), y: new Float32Array(8) };
  await expect((async () => vdNative().vdLinearForward({ ...base, x: new Float32Array(5) }))()).rejects.toMatchObject({ code: 'E_SHAPE', message: expect.stringMatching(/x has 5 elements, expected 6/) });
  await expect((async () => vdNative().vdLinearForward({ ...base, eps: new Float32Array(8) }))()).rejects.toMatchObject({ message: expect.stringMatching(/std is needed/) });
  await expect((async () => vdNative().vdLinearForward({ ...base, n: 0 }))()).rejects.toMatchObject({ code: 'E_RANGE' });
});
