// A GGUF metadata array of strings, kept as positions in the mapped file and decoded on
// access. A vocabulary of 150k tokens (or a hostile 300 MB array of empty strings) then
// costs one 8-byte position per STRIDE strings instead of one JS string each.
import { ShearsError } from '../errors';
import { GGUFEntry, GGUFStrings } from '../model/types';
import { decodeUtf8, MappedFile } from './mapped';

/** One remembered position per STRIDE strings; access walks at most STRIDE - 1 lengths. */
const STRIDE = 64;

export class GGUFStringArray implements GGUFStrings {
  readonly length: number;
  /** Byte span of the whole encoded array (u64 length + bytes per string) in the file. */
  readonly start: number;
  readonly end: number;
  private readonly marks: Float64Array;

  /** `marks[k]` is the byte position of string k * STRIDE; the caller checked every length. */
  private constructor(
    private readonly file: MappedFile,
    length: number,
    marks: Float64Array,
    end: number,
  ) {
    this.length = length;
    this.marks = marks;
    this.start = length > 0 ? marks[0] : end;
    this.end = end;
  }

  /** Memory the positions take for `n` strings (charged to the metadata budget). */
  static costOf(n: number): number {
    return 8 * Math.ceil(n / STRIDE);
  }

  /**
   * Walks `n` strings from byte `pos`, each a u64 length then its bytes, checking them
   * against the file (through `lengthAt`, which fails with a FormatError). Decodes nothing.
   */
  static scan(file: MappedFile, pos: number, n: number, lengthAt: (pos: number, index: number) => number): GGUFStringArray {
    const marks = new Float64Array(Math.ceil(n / STRIDE));
    for (let i = 0; i < n; i++) {
      if (i % STRIDE === 0) marks[i / STRIDE] = pos;
      pos += 8 + lengthAt(pos, i);
    }
    return new GGUFStringArray(file, n, marks, pos);
  }

  /** The encoded bytes of the whole array (for a writer copying it verbatim). */
  encoded(): Uint8Array {
    this.checkOpen();
    return this.file.bytes.subarray(this.start, this.end);
  }

  get(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`string index ${i} outside 0..${this.length - 1}`);
    this.checkOpen();
    let pos = this.marks[Math.floor(i / STRIDE)];
    for (let j = i - (i % STRIDE); j < i; j++) pos += 8 + this.lengthAt(pos);
    return decodeUtf8(this.file.bytes.subarray(pos + 8, pos + 8 + this.lengthAt(pos)));
  }

  *[Symbol.iterator](): IterableIterator<string> {
    this.checkOpen();
    let pos = this.start;
    for (let i = 0; i < this.length; i++) {
      const n = this.lengthAt(pos);
      yield decodeUtf8(this.file.bytes.subarray(pos + 8, pos + 8 + n));
      pos += 8 + n;
    }
  }

  toArray(): string[] {
    return [...this];
  }

  private lengthAt(pos: number): number {
    return Number(this.file.view.getBigUint64(pos, true));
  }

  private checkOpen(): void {
    if (this.file.closed) throw new ShearsError(`${this.file.path}: GGUF metadata read after the model was closed`, 'E_CLOSED');
  }
}

/** An entry's value as plain JS (arrays as arrays, bools as booleans): for display and comparisons. */
export function plainGGUFValue(e: GGUFEntry): unknown {
  const v = e.value;
  if (v instanceof GGUFStringArray) return v.toArray();
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const items = Array.from(v as unknown as ArrayLike<unknown>);
    return e.itemType === 'bool' ? items.map((x) => x !== 0) : items;
  }
  return v;
}
