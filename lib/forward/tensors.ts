// Canonical tensors of a model seen as the native forward pass wants them, with the
// checks that name the offending tensor.
import { DTypeError, ShapeError } from '../errors';
import { Tensor } from '../model/types';
import { NativeMatrix } from '../native/kernels';
import { NativeVector } from '../native/forward';
import { checkData, isDType } from '../tensor';

function checkTensor(t: Tensor, name: string): void {
  if (!t || typeof t !== 'object') throw new ShapeError(`tensor ${name} must be a Tensor object`);
  if (!isDType(t.dtype)) throw new DTypeError(`tensor ${name} has unsupported dtype ${String(t.dtype)} (f32, f16, bf16)`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  checkData(t.data, t.dtype, n, `tensor ${name}`);
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** The tensor as a [rows, cols] matrix; throws ShapeError unless its shape is exactly `[rows, cols]`. */
export function asMatrix(t: Tensor, name: string, rows: number, cols: number): NativeMatrix {
  checkTensor(t, name);
  if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== cols)
    throw new ShapeError(`tensor ${name} has shape ${shapeText(t.shape)}, expected [${rows}, ${cols}]`);
  return { data: t.data, dtype: t.dtype, rows, cols };
}

/** A [rows, cols] matrix whose row count is free (embedding and position tables). */
export function asTable(t: Tensor, name: string, cols: number): NativeMatrix {
  checkTensor(t, name);
  if (t.shape.length !== 2 || t.shape[1] !== cols || t.shape[0] < 1)
    throw new ShapeError(`tensor ${name} has shape ${shapeText(t.shape)}, expected [rows, ${cols}]`);
  return { data: t.data, dtype: t.dtype, rows: t.shape[0], cols };
}

/** The tensor as a vector of n elements. */
export function asVector(t: Tensor, name: string, n: number): NativeVector {
  checkTensor(t, name);
  if (t.shape.length !== 1 || t.shape[0] !== n) throw new ShapeError(`tensor ${name} has shape ${shapeText(t.shape)}, expected [${n}]`);
  return { data: t.data, dtype: t.dtype };
}
