// A memory-mapped model file and zero-copy tensor views into it. Every view is
// bounds-checked against the file size first; errors are FormatErrors naming the file.
import * as fs from 'node:fs';

import { FormatError, fromNative } from '../errors';
import { TensorDType } from '../model/types';
import { filesNative } from '../native/files';

export const DTYPE_BYTES: Record<TensorDType, number> = { f32: 4, f16: 2, bf16: 2 };

export class MappedFile {
  readonly path: string;
  readonly buffer: ArrayBuffer;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;

  private constructor(path: string, buffer: ArrayBuffer) {
    this.path = path;
    this.buffer = buffer;
    this.size = buffer.byteLength;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Maps `path`; a missing file, a directory or an empty file is a FormatError naming it. */
  static open(path: string): MappedFile {
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch (e) {
      throw new FormatError(path, `cannot read: ${(e as Error).message}`, { cause: e });
    }
    if (!st.isFile()) throw new FormatError(path, 'not a regular file');
    let buf: ArrayBuffer;
    try {
      buf = filesNative().mapFile(path);
    } catch (e) {
      throw new FormatError(path, `cannot map: ${fromNative(e).message}`, { cause: e });
    }
    if (buf.byteLength === 0) throw new FormatError(path, 'empty file');
    return new MappedFile(path, buf);
  }

  fail(message: string): never {
    throw new FormatError(this.path, message);
  }

  /** Checks that [offset, offset + length) lies inside the file. */
  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size)
      this.fail(`${what} (bytes ${offset}..${offset + length}) lies past the end of the file (${this.size} bytes): truncated or corrupt`);
  }

  /** A typed view of `numel` elements at byte `offset`: zero-copy when aligned, else a copy. */
  tensorData(dtype: TensorDType, offset: number, numel: number, what: string): Float32Array | Uint16Array {
    const nbytes = numel * DTYPE_BYTES[dtype];
    this.check(offset, nbytes, what);
    const Ctor = dtype === 'f32' ? Float32Array : Uint16Array;
    if (offset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(this.buffer, offset, numel);
    // Unaligned data (allowed by safetensors): copy the bytes into an aligned array.
    const copy = new Ctor(numel);
    new Uint8Array(copy.buffer).set(this.bytes.subarray(offset, offset + nbytes));
    return copy;
  }

  /** True once close() has run: views are empty from then on. */
  get closed(): boolean {
    return this.isClosed;
  }
  private isClosed = false;

  /** Releases the mapping now; views become empty. */
  close(): void {
    this.isClosed = true;
    filesNative().unmapFile(this.buffer);
  }
}

/** A bounds-checked little-endian reader over a mapped file. */
export class Cursor {
  pos: number;
  constructor(
    readonly file: MappedFile,
    pos = 0,
  ) {
    this.pos = pos;
  }
  private need(n: number, what: string): number {
    this.file.check(this.pos, n, what);
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8(what: string): number {
    return this.file.view.getUint8(this.need(1, what));
  }
  i8(what: string): number {
    return this.file.view.getInt8(this.need(1, what));
  }
  u16(what: string): number {
    return this.file.view.getUint16(this.need(2, what), true);
  }
  i16(what: string): number {
    return this.file.view.getInt16(this.need(2, what), true);
  }
  u32(what: string): number {
    return this.file.view.getUint32(this.need(4, what), true);
  }
  i32(what: string): number {
    return this.file.view.getInt32(this.need(4, what), true);
  }
  f32(what: string): number {
    return this.file.view.getFloat32(this.need(4, what), true);
  }
  f64(what: string): number {
    return this.file.view.getFloat64(this.need(8, what), true);
  }
  u64big(what: string): bigint {
    return this.file.view.getBigUint64(this.need(8, what), true);
  }
  i64big(what: string): bigint {
    return this.file.view.getBigInt64(this.need(8, what), true);
  }
  /** A u64 that must fit a safe integer and be at most `max` (a count or a length). */
  u64(what: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.u64big(what);
    if (v > BigInt(max)) this.file.fail(`${what} = ${v} is implausibly large (at most ${max} fits the file): corrupt header`);
    return Number(v);
  }
  bytes(n: number, what: string): Uint8Array {
    const p = this.need(n, what);
    return this.file.bytes.subarray(p, p + n);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
export function decodeUtf8(b: Uint8Array): string {
  return utf8.decode(b);
}
