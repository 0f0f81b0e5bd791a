// A query's place in [0, 1), from its own text and a seed: the split and the sampled
// continuations depend on what a query says, not on where it sits in the file, so
// appending, reordering or splitting a query file changes nothing for the others.
import { createHash } from 'node:crypto';

/** SHA-256 of "seed\ntext", its first 53 bits as a fraction in [0, 1). */
export function textFraction(seed: number, text: string): number {
  const d = createHash('sha256').update(`${seed}\n${text}`, 'utf8').digest();
  // 21 + 32 bits: exactly representable in a double.
  return ((d.readUInt32BE(0) >>> 11) * 2 ** 32 + d.readUInt32BE(4)) / 2 ** 53;
}

/** A 32-bit seed for a query's own draws (SeededRandom). */
export function textSeed(seed: number, text: string): number {
  return Math.floor(textFraction(seed, text) * 2 ** 32) >>> 0;
}
