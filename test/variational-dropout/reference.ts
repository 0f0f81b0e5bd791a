// Float64 reference of the variational linear layer (local reparameterization) and of the
// paper's KL approximation, for the native ops' tests (docs/variational-dropout.md).
export const K1 = 0.63576, K2 = 1.8732, K3 = 1.48695;
export const CLIP = 8;

export interface VdCase {
  n: number;
  in: number;
  out: number;
  x: Float64Array;
  theta: Float64Array;
  logSigma2: Float64Array;
  eps: Float64Array;
}

/** y = x theta^T + sqrt(x^2 exp(logSigma2)^T + 1e-8) * eps. */
export function refForward(c: VdCase): Float64Array {
  const y = new Float64Array(c.n * c.out);
  for (let t = 0; t < c.n; t++)
    for (let o = 0; o < c.out; o++) {
      let mu = 0, v = 0;
      for (let i = 0; i < c.in; i++) {
        const xv = c.x[t * c.in + i];
        mu += xv * c.theta[o * c.in + i];
        v += xv * xv * Math.exp(c.logSigma2[o * c.in + i]);
      }
      y[t * c.out + o] = mu + Math.sqrt(v + 1e-8) * c.eps[t * c.out + o];
    }
  return y;
}

/** Gradients of sum(dy * y) with respect to x, theta and logSigma2, analytically. */
export function refBackward(c: VdCase, dy: Float64Array): { dx: Float64Array; dTheta: Float64Array; dLogSigma2: Float64Array } {
  const dx = new Float64Array(c.n * c.in), dTheta = new Float64Array(c.out * c.in), dLogSigma2 = new Float64Array(c.out * c.in);
  for (let t = 0; t < c.n; t++)
    for (let o = 0; o < c.out; o++) {
      let v = 0;
      for (let i = 0; i < c.in; i++) v += c.x[t * c.in + i] ** 2 * Math.exp(c.logSigma2[o * c.in + i]);
      const g = dy[t * c.out + o];
      const dv = (g * c.eps[t * c.out + o]) / (2 * Math.sqrt(v + 1e-8));
      for (let i = 0; i < c.in; i++) {
        const xv = c.x[t * c.in + i], k = o * c.in + i, s2 = Math.exp(c.logSigma2[k]);
        dTheta[k] += g * xv;
        dLogSigma2[k] += dv * xv * xv * s2;
        dx[t * c.in + i] += g * c.theta[k] + dv * 2 * xv * s2;
      }
    }
  return { dx, dTheta, dLogSigma2 };
}

/** The paper's -KL of one log alpha. */
export const refNegKl = (la: number) => K1 / (1 + Math.exp(-(K2 + K3 * la))) - 0.5 * Math.log1p(Math.exp(-la)) - K1;

/** log alpha = logSigma2 - log(theta^2 + 1e-8), clipped to [-8, 8]. */
export const refLogAlpha = (theta: number, logSigma2: number) => Math.min(CLIP, Math.max(-CLIP, logSigma2 - Math.log(theta * theta + 1e-8)));
