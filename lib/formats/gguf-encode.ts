// Encoding a GGUF v3 header: metadata key/values of every type and tensor infos.
import { ShapeError } from '../errors';
import { GGUFEntry, GGUFScalarType } from '../model/types';
import { ARRAY_TYPES, GGUF_MAGIC, GGUF_VALUE_TYPES } from './gguf';
import { GGUFStringArray } from './gguf-strings';

class Sink {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  num(kind: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64', v: number): void {
    const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 }[kind];
    const b = Buffer.alloc(size);
    const w = {
      u8: () => b.writeUInt8(v),
      i8: () => b.writeInt8(v),
      u16: () => b.writeUInt16LE(v),
      i16: () => b.writeInt16LE(v),
      u32: () => b.writeUInt32LE(v),
      i32: () => b.writeInt32LE(v),
      f32: () => b.writeFloatLE(v),
      f64: () => b.writeDoubleLE(v),
    }[kind];
    w();
    this.push(b);
  }
  u64(v: bigint | number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  i64(v: bigint | number): void {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  result(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function scalar(s: Sink, t: GGUFScalarType, v: unknown, key: string): void {
  const n = () => {
    const x = typeof v === 'bigint' ? Number(v) : v;
    if (typeof x !== 'number') throw new ShapeError(`GGUF metadata ${key}: expected a number for ${t}, got ${typeof v}`);
    return x;
  };
  switch (t) {
    case 'uint8': return s.num('u8', n());
    case 'int8': return s.num('i8', n());
    case 'uint16': return s.num('u16', n());
    case 'int16': return s.num('i16', n());
    case 'uint32': return s.num('u32', n());
    case 'int32': return s.num('i32', n());
    case 'float32': return s.num('f32', n());
    case 'float64': return s.num('f64', n());
    case 'uint64': return s.u64(typeof v === 'bigint' ? v : BigInt(n()));
    case 'int64': return s.i64(typeof v === 'bigint' ? v : BigInt(n()));
    case 'bool': return s.num('u8', v ? 1 : 0);
    case 'string':
      if (typeof v !== 'string') throw new ShapeError(`GGUF metadata ${key}: expected a string`);
      return s.str(v);
  }
}

/** An array value: a reader's GGUFStringArray or typed array (copied as bytes), or a plain JS array. */
function array(s: Sink, e: GGUFEntry): void {
  const t = e.itemType;
  const v = e.value;
  const isTyped = ArrayBuffer.isView(v) && !(v instanceof DataView);
  if (!t || t === ('array' as string) || !(Array.isArray(v) || isTyped || v instanceof GGUFStringArray))
    throw new ShapeError(`GGUF metadata ${e.key}: an array needs itemType and an array value`);
  s.num('u32', GGUF_VALUE_TYPES.indexOf(t));
  if (v instanceof GGUFStringArray) {
    if (t !== 'string') throw new ShapeError(`GGUF metadata ${e.key}: a string array with itemType ${t}`);
    s.u64(v.length);
    const raw = v.encoded(); // u64 length + bytes per string: already the GGUF encoding
    s.push(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    return;
  }
  const items = v as ArrayLike<unknown>;
  s.u64(items.length);
  const Ctor = ARRAY_TYPES[t];
  if (isTyped && t !== 'bool' && Ctor && v instanceof Ctor) {
    s.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    return;
  }
  for (let i = 0; i < items.length; i++) scalar(s, t, items[i], e.key);
}

export interface GGUFTensorOut {
  name: string;
  /** Canonical order [out, in]; written reversed (ne[0] innermost). */
  shape: number[];
  type: number;
  /** Offset relative to the data section (a multiple of the alignment). */
  offset: number;
}

/** Header bytes (magic .. tensor infos), not yet padded to the alignment. */
export function encodeGGUFHeader(entries: GGUFEntry[], tensors: GGUFTensorOut[]): Buffer {
  const s = new Sink();
  s.num('u32', GGUF_MAGIC);
  s.num('u32', 3);
  s.u64(tensors.length);
  s.u64(entries.length);
  for (const e of entries) {
    s.str(e.key);
    s.num('u32', GGUF_VALUE_TYPES.indexOf(e.type));
    if (e.type === 'array') {
      array(s, e);
    } else {
      scalar(s, e.type, e.value, e.key);
    }
  }
  for (const t of tensors) {
    s.str(t.name);
    s.num('u32', t.shape.length);
    for (const d of [...t.shape].reverse()) s.u64(d);
    s.num('u32', t.type);
    s.u64(t.offset);
  }
  return s.result();
}
