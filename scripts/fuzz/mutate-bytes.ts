// Format-blind mutations of a file's bytes: bit flips, byte sets, interesting integers
// at random offsets, truncation, extension, chunk deletion and duplication.
import { interestingU32, interestingU64 } from './interesting';
import type { Rng } from './rng';

export interface Mutated {
  data: Buffer;
  /** One line saying what was done, with offsets in hex. */
  desc: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function flipBits(b: Buffer, r: Rng): Mutated {
  const out = Buffer.from(b);
  const n = r.int(1, 8);
  const at: string[] = [];
  for (let i = 0; i < n && out.length > 0; i++) {
    const off = r.offset(out.length);
    const bit = r.int(0, 7);
    out[off] ^= 1 << bit;
    at.push(`${hex(off)}.${bit}`);
  }
  return { data: out, desc: `flip bits ${at.join(' ')}` };
}

function setBytes(b: Buffer, r: Rng): Mutated {
  const out = Buffer.from(b);
  const n = r.int(1, 4);
  const at: string[] = [];
  for (let i = 0; i < n && out.length > 0; i++) {
    const off = r.offset(out.length);
    out[off] = r.pick([0x00, 0xff, 0x7f, 0x80, 0x01, r.int(0, 255)]);
    at.push(`${hex(off)}=${hex(out[off])}`);
  }
  return { data: out, desc: `set bytes ${at.join(' ')}` };
}

function putInteger(b: Buffer, r: Rng): Mutated {
  const out = Buffer.from(b);
  const wide = r.chance(0.5);
  const width = wide ? 8 : 4;
  if (out.length < width) return setBytes(b, r);
  const off = Math.min(r.offset(out.length) & ~(r.chance(0.7) ? 3 : 0), out.length - width);
  if (wide) {
    const v = interestingU64(r, out.readBigUInt64LE(off), out.length);
    out.writeBigUInt64LE(v, off);
    return { data: out, desc: `u64 at ${hex(off)} := ${v}` };
  }
  const v = interestingU32(r, out.readUInt32LE(off));
  out.writeUInt32LE(v, off);
  return { data: out, desc: `u32 at ${hex(off)} := ${v}` };
}

function truncate(b: Buffer, r: Rng): Mutated {
  const len = r.chance(0.3) ? r.int(0, Math.min(b.length, 64)) : r.chance(0.5) ? r.offset(b.length) : Math.max(0, b.length - r.int(1, 64));
  return { data: b.subarray(0, len), desc: `truncate ${b.length} -> ${len} bytes` };
}

function extend(b: Buffer, r: Rng): Mutated {
  const n = r.pick([1, 3, 4, 8, 31, 32, 100, 4096]);
  const fill = r.chance(0.5) ? Buffer.alloc(n) : Buffer.from(Array.from({ length: n }, () => r.int(0, 255)));
  return { data: Buffer.concat([b, fill]), desc: `append ${n} ${fill[0] === 0 && n > 1 ? 'zero' : 'random'} bytes` };
}

function deleteChunk(b: Buffer, r: Rng): Mutated {
  if (b.length < 2) return truncate(b, r);
  const off = r.offset(b.length);
  const n = Math.min(r.pick([1, 4, 8, 16, 64, 256]), b.length - off);
  return { data: Buffer.concat([b.subarray(0, off), b.subarray(off + n)]), desc: `delete ${n} bytes at ${hex(off)}` };
}

function duplicateChunk(b: Buffer, r: Rng): Mutated {
  if (b.length < 2) return extend(b, r);
  const off = r.offset(b.length);
  const n = Math.min(r.pick([1, 4, 8, 16, 64, 256]), b.length - off);
  return { data: Buffer.concat([b.subarray(0, off + n), b.subarray(off, off + n), b.subarray(off + n)]), desc: `duplicate ${n} bytes at ${hex(off)}` };
}

const MUTATORS = [flipBits, setBytes, putInteger, truncate, extend, deleteChunk, duplicateChunk];
const WEIGHTS = [3, 2, 3, 2, 1, 1, 1];

export function mutateBytes(b: Buffer, r: Rng): Mutated {
  return MUTATORS[r.weighted(WEIGHTS)](b, r);
}
