// The allocator of lib/queries/allocation.ts on synthetic curves: exact total, bounds,
// the optimum of the interpolated problem, and less sparsity where KL grows faster.
import { allocateSparsity, interpolate, SensitivityCurve } from '../../lib/queries/allocation';
import { rng } from '../support/random';

const LEVELS = [0.2, 0.4, 0.6, 0.8];
const weighted = (curves: SensitivityCurve[], s: number[]) => curves.reduce((t, c, b) => t + c.parameters * s[b], 0) / curves.reduce((t, c) => t + c.parameters, 0);

/** Convex increasing curves k * s^p (p >= 1) with random sizes, seeded. */
function randomCurves(n: number, seed: number): SensitivityCurve[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const k = 0.01 + r(), p = 1 + 3 * r();
    return { parameters: 1000 + Math.floor(r() * 100000), kl: LEVELS.map((s) => k * s ** p) };
  });
}

describe('allocateSparsity', () => {
  test.each([0, 0.1, 0.35, 0.5, 0.7, 0.8])('meets the target %p exactly within the bounds', (target) => {
    for (const seed of [1, 2, 3]) {
      const curves = randomCurves(7, seed);
      const min = Math.min(target, 0.05), max = Math.max(target, 0.75);
      const a = allocateSparsity(LEVELS, curves, { target, min, max });
      expect(Math.abs(a.meanSparsity - target)).toBeLessThan(1e-12);
      expect(Math.abs(weighted(curves, a.sparsity) - target)).toBeLessThan(1e-12);
      for (const s of a.sparsity) {
        expect(s).toBeGreaterThanOrEqual(min);
        expect(s).toBeLessThanOrEqual(max);
      }
    }
  });

  test('a block whose KL grows faster gets less sparsity', () => {
    const base = LEVELS.map((s) => 0.5 * s * s);
    const curves = [0, 1, 2, 3].map((b) => ({ parameters: 5000, kl: b === 2 ? base.map((v) => 4 * v) : base }));
    const a = allocateSparsity(LEVELS, curves, { target: 0.5, min: 0.1, max: 0.8 });
    for (const b of [0, 1, 3]) expect(a.sparsity[2]).toBeLessThan(a.sparsity[b] - 0.1);
    expect(a.meanSparsity).toBeCloseTo(0.5, 12);
  });

  test('no feasible point of a fine grid predicts less KL (the optimum of the interpolated problem)', () => {
    const curves = randomCurves(3, 11);
    const [min, max, target] = [0.1, 0.8, 0.45];
    const a = allocateSparsity(LEVELS, curves, { target, min, max });
    const P = curves.map((c) => c.parameters);
    const cost = (s: number[]) => s.reduce((t, v, b) => t + interpolate(LEVELS, curves[b].kl, v), 0);
    let best = Infinity;
    for (let s0 = min; s0 <= max + 1e-12; s0 += 0.0025)
      for (let s1 = min; s1 <= max + 1e-12; s1 += 0.0025) {
        const s2 = (target * (P[0] + P[1] + P[2]) - P[0] * s0 - P[1] * s1) / P[2];
        if (s2 >= min && s2 <= max) best = Math.min(best, cost([s0, s1, s2]));
      }
    expect(a.predictedKl).toBeLessThanOrEqual(best + 1e-12);
    expect(a.predictedKl).toBeCloseTo(cost(a.sparsity), 12);
  });

  test('a non-convex curve counts as its lower convex hull: its measured kink is not a stopping point', () => {
    // Block 0 is cheap up to 0.4, then costly, then flat: its hull jumps from 0.4 to 0.8.
    const curves = [
      { parameters: 1000, kl: [0.01, 0.02, 0.5, 0.52] },
      { parameters: 1000, kl: [0.05, 0.1, 0.15, 0.2] },
    ];
    const a = allocateSparsity(LEVELS, curves, { target: 0.5, min: 0, max: 0.8 });
    expect(a.meanSparsity).toBeCloseTo(0.5, 12);
    // Hull slopes: block 0 0.05 to 0.4 then 1.25 to 0.8; block 1 0.25 throughout: block 0
    // takes its cheap part, block 1 the rest of the 0.5 * 2000 weights.
    expect(a.sparsity[0]).toBeCloseTo(0.4, 12);
    expect(a.sparsity[1]).toBeCloseTo(0.6, 12);
  });

  test('blocks without weights get 0 and do not count; the result is deterministic', () => {
    const curves = [...randomCurves(3, 5), { parameters: 0, kl: LEVELS.map(() => 0) }];
    const a = allocateSparsity(LEVELS, curves, { target: 0.6 });
    expect(a.sparsity[3]).toBe(0);
    expect(weighted(curves.slice(0, 3), a.sparsity.slice(0, 3))).toBeCloseTo(0.6, 12);
    expect(allocateSparsity(LEVELS, curves, { target: 0.6 })).toEqual(a);
  });

  test('bad input is a clear ArgumentRangeError', () => {
    const curves = randomCurves(2, 9);
    expect(() => allocateSparsity(LEVELS, curves, { target: 0.9 })).toThrow(/outside the bounds \[0, 0.8\]/);
    expect(() => allocateSparsity(LEVELS, curves, { target: 0.5, max: 0.9 })).toThrow(/highest measured level/);
    expect(() => allocateSparsity(LEVELS, curves, { target: 0.5, min: 0.6 })).toThrow(/outside the bounds/);
    expect(() => allocateSparsity([0.5, 0.4], curves, { target: 0.3 })).toThrow(/increase strictly/);
    expect(() => allocateSparsity(LEVELS, [{ parameters: 10, kl: [0.1] }], { target: 0.3 })).toThrow(/block 0: needs 4 finite KL values/);
    expect(() => allocateSparsity(LEVELS, [{ parameters: 10, kl: [0.1, NaN, 0.2, 0.3] }], { target: 0.3 })).toThrow(/finite/);
    expect(() => allocateSparsity(LEVELS, [{ parameters: 0, kl: [0, 0, 0, 0] }], { target: 0.3 })).toThrow(/no block has prunable weights/);
    expect(() => allocateSparsity(LEVELS, curves, { target: 0.5 })).not.toThrow();
  });
});
