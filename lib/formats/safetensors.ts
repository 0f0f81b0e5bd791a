// safetensors files: u64 header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__?}, then the data. Offsets are relative to
// the data start. Validated against the file size before any tensor is viewed.
import { TensorDType } from '../model/types';
import { parseJsonObject } from './json-bounds';
import { DTYPE_BYTES, MappedFile } from './mapped';

export interface SafetensorsEntry {
  name: string;
  dtype: TensorDType;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  nbytes: number;
  numel: number;
}

export const SAFETENSORS_DTYPES: Record<string, TensorDType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
export const SAFETENSORS_NAMES: Record<TensorDType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/** The safetensors crate's limit on the header length. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

export function parseSafetensors(f: MappedFile): { entries: Map<string, SafetensorsEntry>; metadata?: Record<string, string> } {
  if (f.size < 8) f.fail('too short for a safetensors file (no 8-byte header length)');
  const n = f.view.getBigUint64(0, true);
  if (n > BigInt(f.size - 8)) f.fail(`safetensors header length ${n} lies past the end of the file (${f.size} bytes): truncated or corrupt`);
  // The format caps headers at 100 MB; a larger length is garbage, not a header to decode.
  if (n > BigInt(MAX_SAFETENSORS_HEADER)) f.fail(`safetensors header length ${n} exceeds the format's 100 MB limit: corrupt`);
  const headerLen = Number(n);
  const header = parseJsonObject(f.path, f.bytes.subarray(8, 8 + headerLen), 'the safetensors header');
  const dataStart = 8 + headerLen;
  const dataLen = f.size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = metadataOf(f, raw);
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null || Array.isArray(e)) f.fail(`tensor ${name}: header entry is not an object`);
    const dtype = typeof e.dtype === 'string' && Object.hasOwn(SAFETENSORS_DTYPES, e.dtype) ? SAFETENSORS_DTYPES[e.dtype] : undefined;
    if (!dtype) f.fail(`tensor ${name} has dtype ${typeof e.dtype === 'string' ? e.dtype : JSON.stringify(e.dtype)}; shears reads F32, F16 and BF16`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.length > 8 || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      f.fail(`tensor ${name} has an invalid shape ${briefJson(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[1] < off[0])
      f.fail(`tensor ${name} has invalid data_offsets ${briefJson(off)}`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const nbytes = off[1] - off[0];
    if (!Number.isSafeInteger(numel) || numel * DTYPE_BYTES[dtype] !== nbytes)
      f.fail(`tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]} bytes but data_offsets span ${nbytes}`);
    if (off[1] > dataLen) f.fail(`tensor ${name} data_offsets [${off[0]}, ${off[1]}] lie past the end of the data (${dataLen} bytes): truncated or corrupt`);
    entries.set(name, { name, dtype, shape: shape as number[], offset: dataStart + off[0], nbytes, numel });
  }
  checkTiling(f, [...entries.values()], dataStart, dataLen);
  return { entries, metadata };
}

/** A header value for a message: at most 200 characters, `undefined` when the key is absent. */
function briefJson(v: unknown): string {
  return String(JSON.stringify(v)).slice(0, 200);
}

/** __metadata__ is a string-to-string map (the crate's HashMap<String, String>). */
function metadataOf(f: MappedFile, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) f.fail('safetensors __metadata__ is not a JSON object');
  for (const [k, v] of Object.entries(raw)) if (typeof v !== 'string') f.fail(`safetensors __metadata__ ${k} is not a string`);
  return raw as Record<string, string>;
}

/** As the safetensors crate requires: the tensors cover the data exactly, without gaps or overlaps. */
function checkTiling(f: MappedFile, entries: SafetensorsEntry[], dataStart: number, dataLen: number): void {
  const sorted = entries.sort((a, b) => a.offset - b.offset || a.nbytes - b.nbytes);
  let end = dataStart;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.offset < end) f.fail(`tensors ${prev!.name} and ${e.name} overlap in the file`);
    if (e.offset > end) f.fail(`tensor ${e.name} starts at data offset ${e.offset - dataStart}, leaving a gap after byte ${end - dataStart}: corrupt`);
    end = e.offset + e.nbytes;
    prev = e;
  }
  if (end !== dataStart + dataLen) f.fail(`the tensors cover ${end - dataStart} of the ${dataLen} data bytes: trailing bytes or corrupt offsets`);
}
