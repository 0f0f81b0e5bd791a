// GGUF container parsing (versions 2 and 3, little-endian): header, metadata key/values
// of every type (arrays included), tensor infos, alignment and the tensor data offset.
// Every count, length and offset is checked against the file size before use.
import { GGUFEntry, GGUFNumbers, GGUFScalarType } from '../model/types';
import { GGUFStringArray } from './gguf-strings';
import { Cursor, decodeUtf8, MappedFile } from './mapped';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32

/** GGUF value type ids (spec order). */
export const GGUF_VALUE_TYPES: readonly (GGUFScalarType | 'array')[] = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'bool',
  'string',
  'array',
  'uint64',
  'int64',
  'float64',
];

/** Tensor types shears reads (ggml_type ids). */
export const GGML_TYPES: Record<number, { name: string; blockWeights: number; blockBytes: number }> = {
  0: { name: 'F32', blockWeights: 1, blockBytes: 4 },
  1: { name: 'F16', blockWeights: 1, blockBytes: 2 },
  8: { name: 'Q8_0', blockWeights: 32, blockBytes: 34 },
  30: { name: 'BF16', blockWeights: 1, blockBytes: 2 },
};
/** Names of other ggml types, for error messages. */
const GGML_OTHER: Record<number, string> = {
  2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K',
  15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S',
  23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
};

export interface GGUFTensorInfo {
  name: string;
  /** GGUF order: ne[0] is the innermost (contiguous) dimension. */
  ne: number[];
  type: number;
  /** Absolute byte offset in the file. */
  offset: number;
  nbytes: number;
  numel: number;
}

export interface GGUFFile {
  version: number;
  /** In file order; keys are unique. */
  entries: GGUFEntry[];
  byKey: Map<string, GGUFEntry>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  dataStart: number;
}

const SCALAR_BYTES: Partial<Record<GGUFScalarType, number>> = {
  uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8,
};
type NumericCtor = { new (buffer: ArrayBuffer, offset: number, length: number): GGUFNumbers; new (length: number): GGUFNumbers; BYTES_PER_ELEMENT: number };
export const ARRAY_TYPES: Partial<Record<GGUFScalarType, NumericCtor>> = {
  uint8: Uint8Array, bool: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array,
  int32: Int32Array, float32: Float32Array, float64: Float64Array, uint64: BigUint64Array, int64: BigInt64Array,
};

/** llama.cpp's limits: GGUF keys are at most 65535 bytes, tensor names at most 63 (GGML_MAX_NAME - 1). */
const MAX_KEY_BYTES = 65535;
const MAX_TENSOR_NAME_BYTES = 63;
/** Far above any real model (a 70B llama has 723 tensors and ~40 keys); bounds the boxed JS objects. */
export const MAX_GGUF_TENSORS = 1 << 16;
export const MAX_GGUF_KEYS = 1 << 16;
/** Metadata memory in JS: twice the file (decoded strings are UTF-16) plus 8 MiB, never above 256 MiB. */
export const MAX_METADATA_BYTES = 256 * 2 ** 20;

export function metadataBudgetOf(fileSize: number): number {
  return Math.min(2 * fileSize + 8 * 2 ** 20, MAX_METADATA_BYTES);
}

/** The memory metadata may take in JS; every decoded string, copied array and object is charged. */
class MetadataBudget {
  private left: number;
  constructor(private readonly f: MappedFile) {
    this.left = metadataBudgetOf(f.size);
  }
  charge(bytes: number, what: string): void {
    this.left -= bytes;
    if (this.left < 0)
      this.f.fail(`${what} takes the header past its memory budget (${metadataBudgetOf(this.f.size)} bytes for a ${this.f.size}-byte file): corrupt or hostile`);
  }
}

function stringLength(c: Cursor, what: string, max: number): number {
  return c.u64(`${what} length`, Math.max(0, Math.min(max, c.file.size - c.pos - 8)));
}

function readString(c: Cursor, what: string, budget: MetadataBudget, max = Number.MAX_SAFE_INTEGER): string {
  const n = stringLength(c, what, max);
  budget.charge(2 * n, what);
  return decodeUtf8(c.bytes(n, what));
}

function valueType(c: Cursor, what: string): GGUFScalarType | 'array' {
  const id = c.u32(`${what} type`);
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) c.file.fail(`${what} has unknown value type ${id}`);
  return t;
}

function readScalar(c: Cursor, t: GGUFScalarType, what: string, budget: MetadataBudget): unknown {
  switch (t) {
    case 'uint8': return c.u8(what);
    case 'int8': return c.i8(what);
    case 'uint16': return c.u16(what);
    case 'int16': return c.i16(what);
    case 'uint32': return c.u32(what);
    case 'int32': return c.i32(what);
    case 'float32': return c.f32(what);
    case 'float64': return c.f64(what);
    case 'bool': {
      const b = c.u8(what);
      if (b > 1) c.file.fail(`${what} is a bool with value ${b}`);
      return b === 1;
    }
    case 'uint64': return c.u64big(what);
    case 'int64': return c.i64big(what);
    case 'string': return readString(c, what, budget);
  }
}

/** A numeric array: a view of the mapping when aligned, else a (charged) copy. */
function readNumbers(c: Cursor, t: GGUFScalarType, n: number, what: string, budget: MetadataBudget): GGUFNumbers {
  const Ctor = ARRAY_TYPES[t]!;
  const pos = c.pos;
  const bytes = c.bytes(n * Ctor.BYTES_PER_ELEMENT, what);
  if (pos % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(c.file.buffer, pos, n);
  budget.charge(bytes.length, what);
  const copy = new Ctor(n);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** A string array: each length checked against the file, nothing decoded. */
function readStrings(c: Cursor, n: number, what: string, budget: MetadataBudget): GGUFStringArray {
  budget.charge(GGUFStringArray.costOf(n), what);
  const arr = GGUFStringArray.scan(c.file, c.pos, n, (pos, i) => {
    c.pos = pos;
    const len = stringLength(c, `${what} element ${i}`, Number.MAX_SAFE_INTEGER);
    c.bytes(len, `${what} element ${i}`);
    return len;
  });
  c.pos = arr.end;
  return arr;
}

function readEntry(c: Cursor, index: number, budget: MetadataBudget): GGUFEntry {
  const key = readString(c, `metadata key ${index}`, budget, MAX_KEY_BYTES);
  const what = `metadata ${key}`;
  budget.charge(128, what); // the entry object itself
  const type = valueType(c, what);
  if (type !== 'array') return { key, type, value: readScalar(c, type, what, budget) };
  const itemType = valueType(c, `${what} element`);
  if (itemType === 'array') c.file.fail(`${what} is an array of arrays (not supported)`);
  const minBytes = SCALAR_BYTES[itemType] ?? 8; // a string is at least its 8-byte length
  const n = c.u64(`${what} array length`, Math.floor((c.file.size - c.pos) / minBytes));
  const value = itemType === 'string' ? readStrings(c, n, what, budget) : readNumbers(c, itemType, n, what, budget);
  return { key, type, itemType, value };
}

export function parseGGUF(f: MappedFile): GGUFFile {
  const c = new Cursor(f);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) f.fail('not a GGUF file (bad magic)');
  const version = c.u32('version');
  if (version !== 2 && version !== 3)
    f.fail(`GGUF version ${version} is not supported (2 and 3 are${version > 0xffff ? '; a big-endian file?' : ''})`);
  // Each tensor info takes at least 8+4+8+4+8 bytes and each KV at least 8+4+1.
  const nTensors = c.u64('tensor count', Math.min(Math.floor(f.size / 32), MAX_GGUF_TENSORS));
  const nKv = c.u64('metadata count', Math.min(Math.floor(f.size / 13), MAX_GGUF_KEYS));
  const budget = new MetadataBudget(f);
  const entries: GGUFEntry[] = [];
  const byKey = new Map<string, GGUFEntry>();
  for (let i = 0; i < nKv; i++) {
    const e = readEntry(c, i, budget);
    // llama.cpp rejects duplicate keys: which one counts would be up to the reader.
    if (byKey.has(e.key)) f.fail(`metadata key ${e.key} appears twice`);
    byKey.set(e.key, e);
    entries.push(e);
  }
  let alignment = 32;
  const al = byKey.get('general.alignment');
  if (al) {
    const a = Number(al.value);
    if (al.type !== 'uint32' || !Number.isInteger(a) || a < 1 || a > 1 << 20 || (a & (a - 1)) !== 0)
      f.fail(`general.alignment ${al.type === 'array' ? '(an array)' : String(al.value)} is not a uint32 power of two`);
    alignment = a;
  }
  const infos: { name: string; ne: number[]; type: number; rel: bigint }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = readString(c, `tensor ${i} name`, budget, MAX_TENSOR_NAME_BYTES);
    budget.charge(256, `tensor ${name}`); // the info object and its shape
    const nd = c.u32(`tensor ${name} dimension count`);
    if (nd < 1 || nd > 4) f.fail(`tensor ${name} has ${nd} dimensions (1 to 4 allowed)`);
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(c.u64(`tensor ${name} dimension ${d}`, 2 ** 40));
    const type = c.u32(`tensor ${name} type`);
    const rel = c.u64big(`tensor ${name} offset`);
    infos.push({ name, ne, type, rel });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GGUFTensorInfo[] = [];
  const seen = new Set<string>();
  for (const t of infos) {
    if (seen.has(t.name)) f.fail(`tensor ${t.name} appears twice`);
    seen.add(t.name);
    const tt = GGML_TYPES[t.type];
    if (!tt) f.fail(`tensor ${t.name} has tensor type ${GGML_OTHER[t.type] ?? 'unknown'} (${t.type}); shears reads F32, F16, BF16 and Q8_0`);
    const numel = t.ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel) || t.ne.some((d) => d < 1)) f.fail(`tensor ${t.name} has an invalid shape [${t.ne.join(', ')}]`);
    if (t.ne[0] % tt.blockWeights !== 0) f.fail(`tensor ${t.name}: row length ${t.ne[0]} is not a multiple of the ${tt.name} block size ${tt.blockWeights}`);
    const nbytes = (numel / tt.blockWeights) * tt.blockBytes;
    if (t.rel % BigInt(alignment) !== 0n) f.fail(`tensor ${t.name} offset ${t.rel} is not a multiple of the alignment ${alignment}`);
    if (t.rel > BigInt(f.size)) f.fail(`tensor ${t.name} offset ${t.rel} lies past the end of the file (${f.size} bytes)`);
    const offset = dataStart + Number(t.rel);
    f.check(offset, nbytes, `tensor ${t.name} data`);
    tensors.push({ name: t.name, ne: t.ne, type: t.type, offset, nbytes, numel });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].nbytes)
      f.fail(`tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap in the file`);
  return { version, entries, byKey, tensors, alignment, dataStart };
}

/** Looks up one metadata value. */
export function ggufValue(g: GGUFFile, key: string): unknown {
  return g.byKey.get(key)?.value;
}
