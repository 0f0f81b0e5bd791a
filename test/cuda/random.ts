// Seeded random test inputs (mulberry32): weights in every storage dtype, with ties,
// extremes and subnormals, so CUDA and CPU backends are compared on hard cases.
export type Kind = 'normal' | 'extreme' | 'ties';

import { rng } from '../support/random';

export { rng };

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

const EXTREMES = [0, -0, 1e-45, -1e-45, 1.2e-38, 3e38, -3e38, 1e30, -1e-30, 65504, 1e-7, 3.4028234e38];
const TIE_VALUES = [0, -0, 1, -1, 2, 0.5, -2];

export function floats(n: number, kind: Kind, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'ties') out[i] = TIE_VALUES[Math.floor(r() * TIE_VALUES.length)];
    else if (kind === 'extreme' && r() < 0.5) out[i] = EXTREMES[Math.floor(r() * EXTREMES.length)];
    else out[i] = gauss(r) * (kind === 'extreme' ? 10 ** Math.floor(r() * 20 - 10) : 1);
  }
  return out;
}

/** Non-negative statistic (e.g. column norms), with zeros and a wide range. */
export function statistic(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() < 0.1 ? 0 : Math.abs(gauss(r)) * 10 ** Math.floor(r() * 6 - 3);
  return out;
}

/** Random finite f16 or bf16 bit patterns (subnormals and signed zeros included). */
export function halfBits(n: number, dtype: 'f16' | 'bf16', kind: Kind, seed: number): Uint16Array {
  const r = rng(seed);
  const out = new Uint16Array(n);
  const expMask = dtype === 'f16' ? 0x7c00 : 0x7f80;
  const one = dtype === 'f16' ? 0x3c00 : 0x3f80;
  for (let i = 0; i < n; i++) {
    if (kind === 'ties') {
      out[i] = [0, 0x8000, one, one | 0x8000, one + 1][Math.floor(r() * 5)];
      continue;
    }
    let v: number;
    do v = Math.floor(r() * 65536);
    while ((v & expMask) === expMask);
    out[i] = v;
  }
  return out;
}

export interface Mat {
  data: Float32Array | Uint16Array;
  dtype: 'f32' | 'f16' | 'bf16';
  rows: number;
  cols: number;
}

export function matrix(rows: number, cols: number, dtype: Mat['dtype'], kind: Kind, seed: number): Mat {
  const n = rows * cols;
  const data = dtype === 'f32' ? floats(n, kind, seed) : halfBits(n, dtype, kind, seed);
  return { data, dtype, rows, cols };
}

export function cloneMat(m: Mat): Mat {
  return { ...m, data: m.data.slice() };
}

/** Random bytes (garbage in mask padding bits must survive both backends alike). */
export function bytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}
