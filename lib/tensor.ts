// Weight matrices as the kernels see them: row-major [rows = out, cols = in],
// float32 in a Float32Array, float16 / bfloat16 as raw bits in a Uint16Array.
import { DTypeError, ShapeError } from './errors';
import { DType, DTYPES } from './model/types';

export { DTYPES };
export type { DType };
export type MatrixData = Float32Array | Uint16Array;

export interface Matrix {
  data: MatrixData;
  dtype: DType;
  rows: number;
  cols: number;
  /** Element strides [row, col]. Only contiguous row-major [cols, 1] is accepted. */
  strides?: readonly [number, number];
}

/** A packed keep-mask: bit (r*cols + c) of `bits`, little-endian within bytes; 1 = kept. */
export interface Mask {
  rows: number;
  cols: number;
  bits: Uint8Array;
  prunedPerRow: Uint32Array;
  /** Total number of pruned weights. */
  pruned: number;
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function checkDims(rows: unknown, cols: unknown, name: string): void {
  for (const [k, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff)
      throw new ShapeError(`${name}.${k} must be a positive integer, got ${String(v)}`);
  }
}

type TypedArrayName = 'Float32Array' | 'Float64Array' | 'Uint16Array' | 'Uint8Array' | 'Uint32Array' | 'Int32Array';

/** Checks that `data` is a typed array of class `want` with `length` elements (length < 0: any). */
export function checkTypedArray(data: unknown, want: TypedArrayName, length: number, name: string): void {
  // Compare by constructor name: typed arrays made in another realm (jest, vm) fail instanceof.
  if (!ArrayBuffer.isView(data) || data.constructor?.name !== want) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : Array.isArray(data) ? 'Array' : typeof data;
    throw new DTypeError(`${name} must be a contiguous ${want}, got ${got}`);
  }
  const n = (data as unknown as { length: number }).length;
  if (length >= 0 && n !== length) throw new ShapeError(`${name} has ${n} elements, expected ${length}`);
}

/** Checks that `data` is the typed array `dtype` is stored in, with `length` elements. */
export function checkData(data: unknown, dtype: DType, length: number, name: string): void {
  checkTypedArray(data, dtype === 'f32' ? 'Float32Array' : 'Uint16Array', length, `${name} (dtype ${dtype})`);
}

/** Validates a matrix and returns it; throws ShapeError / DTypeError naming `name`. */
export function checkMatrix(m: Matrix, name = 'W'): Matrix {
  if (m === null || typeof m !== 'object') throw new ShapeError(`${name} must be a matrix object {data, dtype, rows, cols}`);
  if (!isDType(m.dtype)) throw new DTypeError(`${name}.dtype must be one of f32, f16, bf16, got ${String(m.dtype)}`);
  checkDims(m.rows, m.cols, name);
  if (m.strides !== undefined) {
    const [rs, cs] = m.strides;
    if (rs !== m.cols || cs !== 1)
      throw new ShapeError(`${name} is not contiguous (strides [${rs}, ${cs}], need [${m.cols}, 1]); copy it first`);
  }
  checkData(m.data, m.dtype, m.rows * m.cols, `${name}.data`);
  return m;
}

export function matrix(data: MatrixData, rows: number, cols: number, dtype: DType = 'f32'): Matrix {
  return checkMatrix({ data, dtype, rows, cols });
}

export function maskBytes(rows: number, cols: number): number {
  return Math.ceil((rows * cols) / 8);
}

/** True when weight (r, c) is kept. */
export function maskKept(mask: Mask, r: number, c: number): boolean {
  const i = r * mask.cols + c;
  return ((mask.bits[i >> 3] >> (i & 7)) & 1) === 1;
}

export function emptyMask(rows: number, cols: number): Mask {
  return { rows, cols, bits: new Uint8Array(maskBytes(rows, cols)), prunedPerRow: new Uint32Array(rows), pruned: 0 };
}
