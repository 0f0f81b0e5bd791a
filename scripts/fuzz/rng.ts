// The fuzzer's random choices, all drawn from lib/util/random.ts's seeded generator so
// that a (seed, target, iteration) triple always yields the same mutated input.
import { SeededRandom } from '../../lib/util/random';

/** FNV-1a over a string: turns a seed such as "ci-1234" or "7" into 32 bits. */
export function hashSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

export class Rng {
  private readonly r: SeededRandom;
  constructor(seed: number) {
    this.r = new SeededRandom(seed);
  }
  /** The generator of one iteration: independent of how many draws earlier iterations made. */
  static forIteration(seed: string, target: string, iteration: number): Rng {
    return new Rng(hashSeed(`${seed}/${target}/${iteration}`));
  }
  next(): number {
    return this.r.next();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return this.r.int(lo, hi);
  }
  chance(p: number): boolean {
    return this.r.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.r.int(0, items.length - 1)];
  }
  /** An index weighted by `weights`. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let x = this.r.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
  /** An offset in [0, size), half of the time inside the first `head` bytes where headers live. */
  offset(size: number, head = 1024): number {
    if (size <= 0) return 0;
    return this.chance(0.5) ? this.int(0, Math.min(size, head) - 1) : this.int(0, size - 1);
  }
}
