// Plain TypeScript references for the native kernels: written from the definitions
// (sorting, exact arithmetic), not from the native code. Tests only.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}
export function fromBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0];
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** IEEE half bits -> number, from the definition. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** number (a float32 value) -> IEEE half bits, round to nearest even. */
export function numberToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // may round up to 0x400, the smallest normal
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

export function bf16ToNumber(h: number): number {
  return fromBits(h << 16);
}

/** float32 value -> bfloat16 bits, round to nearest even (from the value, not the bit trick). */
export function numberToBf16(x: number): number {
  if (Number.isNaN(x)) return (bitsOf(x) >>> 16) | 0x40;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7f80;
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  const ulp = 2 ** (Math.max(e, -126) - 7);
  const q = roundHalfEven(a / ulp) * ulp;
  if (q >= 2 ** 128) return sign | 0x7f80;
  return sign | (bitsOf(q) >>> 16);
}

export type RefDType = 'f32' | 'f16' | 'bf16';

export function decode(data: Float32Array | Uint16Array, dtype: RefDType): number[] {
  if (dtype === 'f32') return Array.from(data);
  return Array.from(data, (h) => (dtype === 'f16' ? halfToNumber(h) : bf16ToNumber(h)));
}

/** |w|^p * a^q in double, rounded once to float32 (the documented score). */
export function refScores(w: number[], cols: number, p: number, q: number, act?: Float32Array): Float32Array {
  const pw = (x: number, e: number) => (e === 1 ? x : e === 2 ? x * x : e === 0.5 ? Math.sqrt(x) : e === 0 ? 1 : x ** e);
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    let s = pw(Math.abs(w[i]), p);
    if (q !== 0) s *= pw(act![i % cols], q);
    out[i] = s;
  }
  return out;
}

/** Marks the k lowest scores among idx (increasing indices) as pruned; ties: lower index first. */
function stableLowest(scores: ArrayLike<number>, idx: number[], k: number, keep: boolean[]): void {
  const order = idx.slice().sort((a, b) => {
    const sa = scores[a] === 0 ? 0 : scores[a];
    const sb = scores[b] === 0 ? 0 : scores[b];
    return sa < sb ? -1 : sa > sb ? 1 : a - b;
  });
  for (let i = 0; i < k; i++) keep[order[i]] = false;
}

export function refSelectRow(scores: ArrayLike<number>, rows: number, cols: number, sparsity: number): boolean[] {
  const keep = new Array<boolean>(rows * cols).fill(true);
  const k = Math.floor(sparsity * cols);
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: cols }, (_, c) => r * cols + c);
    stableLowest(scores, idx, k, keep);
  }
  return keep;
}

export function refSelectMatrix(scores: ArrayLike<number>, count: number, sparsity: number): boolean[] {
  const keep = new Array<boolean>(count).fill(true);
  stableLowest(scores, Array.from({ length: count }, (_, i) => i), Math.floor(sparsity * count), keep);
  return keep;
}

export function refSelectNM(scores: ArrayLike<number>, rows: number, cols: number, n: number, m: number): boolean[] {
  const keep = new Array<boolean>(rows * cols).fill(true);
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < cols; g += m) {
      const idx: number[] = [];
      for (let c = g; c < Math.min(cols, g + m); c++) idx.push(r * cols + c);
      stableLowest(scores, idx, Math.max(0, idx.length - n), keep);
    }
  return keep;
}

export function maskToKeep(bits: Uint8Array, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => ((bits[i >> 3] >> (i & 7)) & 1) === 1);
}

export { rng } from './random';

export type ValueKind = 'normal' | 'huge' | 'tiny' | 'ties';

/** Random float32 values of a kind: gaussian-ish, huge (~1e30), tiny (~1e-38, subnormals), or few distinct values. */
export function randomValues(n: number, kind: ValueKind, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (r() + r() + r() - 1.5) * 2;
    switch (kind) {
      case 'normal':
        out[i] = g;
        break;
      case 'huge':
        out[i] = g * 1e30;
        break;
      case 'tiny':
        out[i] = g * 1e-38 * (r() < 0.5 ? 1e-5 : 1);
        break;
      case 'ties':
        out[i] = [0, -0, 1, -1, 2, -2, 0.5][Math.floor(r() * 7)];
        break;
    }
  }
  return out;
}

/** Encodes float32 values into a dtype's storage (with the reference encoders). */
export function encode(values: Float32Array, dtype: RefDType): Float32Array | Uint16Array {
  if (dtype === 'f32') return values.slice();
  return Uint16Array.from(values, (v) => (dtype === 'f16' ? numberToHalf(v) : numberToBf16(v)));
}
