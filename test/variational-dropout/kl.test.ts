// The paper's KL approximation (native vdKl / vdNegKl) against the formula: values, sum,
// clipped log alpha, and gradients (against central differences of the formula).
import { vdNative } from '../../lib/native/vd';
import { rng } from '../support/random';
import { CLIP, refLogAlpha, refNegKl } from './reference';

test('-KL of one log alpha is k1 sigmoid(k2 + k3 la) - 0.5 log1p(exp(-la)) - k1', () => {
  for (const la of [-8, -3.5, -1, 0, 0.25, 2, 5, 8]) expect(vdNative().vdNegKl(la)).toBeCloseTo(refNegKl(la), 12);
  // The approximation's limits: -KL -> -k1 ... 0 as log alpha -> +inf (a weight that carries no information).
  expect(vdNative().vdNegKl(30)).toBeCloseTo(0, 6);
  expect(vdNative().vdNegKl(-8)).toBeLessThan(vdNative().vdNegKl(0));
});

test('sum KL, log alpha (clipped) and the gradients of scale * KL', async () => {
  const r = rng(11);
  const n = 40_000; // several chunks of the native loop
  const theta = Float32Array.from({ length: n }, () => (r() * 2 - 1) * 0.3);
  const logSigma2 = Float32Array.from({ length: n }, () => -12 + 14 * r());
  theta[0] = 0; // log alpha clipped at +8
  logSigma2[1] = -30; // clipped at -8
  const dTheta = new Float32Array(n), dLogSigma2 = new Float32Array(n), logAlpha = new Float32Array(n);
  const scale = 0.37;
  const kl = await vdNative().vdKl({ theta, logSigma2, scale, dTheta, dLogSigma2, logAlpha });
  let ref = 0;
  for (let i = 0; i < n; i++) ref -= refNegKl(refLogAlpha(theta[i], logSigma2[i]));
  expect(kl).toBeCloseTo(ref, 6);
  expect(logAlpha[0]).toBe(CLIP);
  expect(logAlpha[1]).toBe(-CLIP);
  expect(dTheta[0]).toBe(0);
  expect(dLogSigma2[1]).toBe(0);
  const klOf = (t: number, s: number) => -refNegKl(refLogAlpha(t, s));
  const h = 1e-6;
  for (const i of [2, 3, 1000, 25_000, 39_999]) {
    const la = refLogAlpha(theta[i], logSigma2[i]);
    expect(logAlpha[i]).toBeCloseTo(la, 5);
    if (Math.abs(la) >= CLIP) continue;
    const t = theta[i], s = logSigma2[i];
    const fdS = (klOf(t, s + h) - klOf(t, s - h)) / (2 * h);
    const fdT = (klOf(t + h * Math.abs(t), s) - klOf(t - h * Math.abs(t), s)) / (2 * h * Math.abs(t));
    expect(dLogSigma2[i] / scale).toBeCloseTo(fdS, 4);
    expect(Math.abs(dTheta[i] / scale - fdT)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fdT)));
  }
  // KL falls as log alpha grows: the KL pushes log sigma^2 up and |theta| down.
  expect(dLogSigma2.every((g, i) => g <= 0 || Math.abs(logAlpha[i]) >= CLIP)).toBe(true);
});
