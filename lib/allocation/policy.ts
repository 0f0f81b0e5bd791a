// rl-allocation's agent: a Gaussian policy over per-block sparsity offsets, linear in
// per-block features, trained by REINFORCE with a running baseline.
//
//   mu_b = phi_b . theta               (phi_b: block b's standardized features)
//   z_b  = mu_b + sigma * eps_b,  eps_b ~ N(0, 1) from the seeded generator
//   log pi(z) = -sum_b (z_b - mu_b)^2 / (2 sigma^2) + const
//   grad_theta log pi(z) = Phi^T (z - mu) / sigma^2
//
// The update is the natural gradient (the policy's Fisher information for theta is
// Phi^T Phi / sigma^2): theta += lr * A * (Phi^T Phi + ridge I)^-1 Phi^T (z - mu), with
// A the advantage (reward minus the running baseline, divided by a running mean of its
// magnitude and clipped). In sparsity units the mean then moves by lr * A times the
// sampled noise projected onto the features' span: toward a sample that beat the
// baseline, away from one that did not, at a step that does not depend on sigma or on
// the reward's scale. The projection to the target and the bounds (project.ts) is part of
// the environment: the log-probability is that of the unprojected sample z.
//
// Everything is a few small vectors in float64: no numeric work worth a native call.
import { SeededRandom } from '../util/random';

export interface PolicyOptions {
  /** Step of the natural-gradient update (default 0.5). */
  lr?: number;
  /** Ridge added to Phi^T Phi (default 1e-3 per block): features may be collinear or constant. */
  ridge?: number;
}

/** A standard normal draw (Box-Muller) from the seeded generator. */
export function gaussian(rng: SeededRandom): number {
  const u1 = 1 - rng.next(); // (0, 1]: log is finite
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Solves the small symmetric positive definite system G x = r (Gaussian elimination, partial pivoting). */
function solve(G: number[][], r: number[]): number[] {
  const n = r.length;
  const a = G.map((row, i) => [...row, r[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[p][c])) p = i;
    [a[c], a[p]] = [a[p], a[c]];
    for (let i = c + 1; i < n; i++) {
      const f = a[i][c] / a[c][c];
      for (let j = c; j <= n; j++) a[i][j] -= f * a[c][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = a[i][n];
    for (let j = i + 1; j < n; j++) s -= a[i][j] * x[j];
    x[i] = s / a[i][i];
  }
  return x;
}

export class GaussianPolicy {
  readonly theta: number[];
  private readonly lr: number;
  /** (Phi^T Phi + ridge I), the natural gradient's metric. */
  private readonly metric: number[][];

  /** `features`: one row per block, columns standardized (standardize()). */
  constructor(
    private readonly features: readonly (readonly number[])[],
    o: PolicyOptions = {},
  ) {
    const F = features[0]?.length ?? 0;
    this.theta = new Array<number>(F).fill(0);
    this.lr = o.lr ?? 0.5;
    const ridge = o.ridge ?? 1e-3 * features.length;
    this.metric = Array.from({ length: F }, (_, i) => Array.from({ length: F }, (_, j) => features.reduce((t, phi) => t + phi[i] * phi[j], 0) + (i === j ? ridge : 0)));
  }

  /** The policy's mean offset of each block. */
  mean(): number[] {
    return this.features.map((phi) => phi.reduce((t, x, i) => t + x * this.theta[i], 0));
  }

  /** One sample of offsets at `sigma`. */
  sample(rng: SeededRandom, sigma: number): number[] {
    return this.mean().map((m) => m + sigma * gaussian(rng));
  }

  /** The REINFORCE step for the sample z (drawn from the current policy) with advantage A. */
  update(z: readonly number[], advantage: number): void {
    const mu = this.mean();
    const r = this.theta.map((_, i) => this.features.reduce((t, phi, b) => t + phi[i] * (z[b] - mu[b]), 0));
    const step = solve(this.metric, r);
    step.forEach((d, i) => (this.theta[i] += this.lr * advantage * d));
  }
}

/** Each column shifted to mean 0 and scaled to unit standard deviation over the rows (a constant column becomes 0). */
export function standardize(rows: readonly (readonly number[])[]): number[][] {
  const n = rows.length;
  const F = rows[0]?.length ?? 0;
  const out = rows.map((r) => r.slice());
  for (let j = 0; j < F; j++) {
    const mean = rows.reduce((t, r) => t + r[j], 0) / n;
    const sd = Math.sqrt(rows.reduce((t, r) => t + (r[j] - mean) ** 2, 0) / n);
    for (const r of out) r[j] = sd > 1e-12 ? (r[j] - mean) / sd : 0;
  }
  return out;
}

/** A running baseline of the reward and of the magnitude of its deviation (for the advantage). */
export class RunningBaseline {
  private scale: number | undefined;

  constructor(
    public value: number,
    private readonly rate = 0.2,
    private readonly clipAt = 3,
  ) {}

  /** The advantage of `reward` against the baseline, then both running values move toward it. */
  advantage(reward: number): number {
    const dev = reward - this.value;
    if (this.scale === undefined) this.scale = Math.abs(dev);
    const a = this.scale > 0 ? Math.max(-this.clipAt, Math.min(this.clipAt, dev / this.scale)) : 0;
    this.value += this.rate * dev;
    this.scale += this.rate * (Math.abs(dev) - this.scale);
    return a;
  }
}
