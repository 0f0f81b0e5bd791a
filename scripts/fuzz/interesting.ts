// Values that tend to break length, count, offset and dimension checks.
import type { Rng } from './rng';

/** Unsigned 32-bit: zero, one, powers near the sign bit, all ones, and the field's neighbours. */
export function interestingU32(r: Rng, current: number): number {
  const fixed = [0, 1, 2, 3, 7, 8, 9, 13, 255, 256, 0xffff, 0x10000, 0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  const near = [current + 1, current - 1, current * 2, current * 1000].map((v) => v >>> 0);
  return r.chance(0.7) ? r.pick(fixed) : r.pick(near);
}

/** Signed 32-bit, as llama2.c header ints and record lengths are. */
export function interestingI32(r: Rng, current: number): number {
  const fixed = [0, 1, -1, 2, -2, 3, 7, 8, 16, 255, 1 << 16, 1 << 20, 1 << 24, 1 << 30, 0x7fffffff, -0x80000000, -(1 << 30), 1000000000];
  const near = [current + 1, current - 1, current * 2, -current, current * 1000].map((v) => v | 0);
  return r.chance(0.7) ? r.pick(fixed) : r.pick(near);
}

/** Unsigned 64-bit: lengths and counts that overflow 32 bits, 2^53, the sign bit, all ones, the file size. */
export function interestingU64(r: Rng, current: bigint, fileSize: number): bigint {
  const fixed = [0n, 1n, 2n, 8n, 32n, 0xffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 1n << 40n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, 1n << 63n, 0xfffffffffffffffen, 0xffffffffffffffffn];
  const size = BigInt(fileSize);
  const near = [current + 1n, current > 0n ? current - 1n : 0xffffffffffffffffn, current * 2n, current << 20n, size, size + 1n, size - current].map((v) => BigInt.asUintN(64, v));
  return r.chance(0.65) ? r.pick(fixed) : r.pick(near);
}

/** Numbers a JSON field (a count, a dimension, an id) should not accept. */
export function interestingJsonNumber(r: Rng, current?: number): number {
  const fixed = [0, -1, 1, 2, 1e9, 2 ** 30, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -1e9, 0.5, 1.5, 3.14159, -0];
  const near = current === undefined ? [] : [current + 1, current - 1, current * 2, current * 1000, -current, current + 0.5];
  return near.length > 0 && r.chance(0.3) ? r.pick(near) : r.pick(fixed);
}

/** A JSON value of some type, to put where another type is expected. */
export function wrongTypeJson(r: Rng): unknown {
  return r.pick<unknown>([null, true, false, '', '16', 'x'.repeat(300), [], [1, 2], {}, { a: 1 }, 0, -1, 1e9, 1.5]);
}
