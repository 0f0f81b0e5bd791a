// safetensors files: u64 header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__?}, then the data. Offsets are relative to
// the data start. Validated against the file size before any tensor is viewed.
import { TensorDType } from '../model/types';
import { DTYPE_BYTES, decodeUtf8, MappedFile } from './mapped';

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

export function parseSafetensors(f: MappedFile): { entries: Map<string, SafetensorsEntry>; metadata?: Record<string, string> } {
  if (f.size < 8) f.fail('too short for a safetensors file (no 8-byte header length)');
  const n = f.view.getBigUint64(0, true);
  if (n > BigInt(f.size - 8)) f.fail(`safetensors header length ${n} lies past the end of the file (${f.size} bytes): truncated or corrupt`);
  // The format caps headers at 100 MB; a larger length is garbage, not a header to decode.
  if (n > 100_000_000n) f.fail(`safetensors header length ${n} exceeds the format's 100 MB limit: corrupt`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(decodeUtf8(f.bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    f.fail(`safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) f.fail('safetensors header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = f.size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) f.fail(`tensor ${name}: header entry is not an object`);
    const dtype = SAFETENSORS_DTYPES[String(e.dtype)];
    if (!dtype) f.fail(`tensor ${name} has dtype ${String(e.dtype)}; shears reads F32, F16 and BF16`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      f.fail(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[1] < off[0])
      f.fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const nbytes = off[1] - off[0];
    if (!Number.isSafeInteger(numel) || numel * DTYPE_BYTES[dtype] !== nbytes)
      f.fail(`tensor ${name}: shape [${shape.join(', ')}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]} bytes but data_offsets span ${nbytes}`);
    if (off[1] > dataLen) f.fail(`tensor ${name} data_offsets [${off[0]}, ${off[1]}] lie past the end of the data (${dataLen} bytes): truncated or corrupt`);
    entries.set(name, { name, dtype, shape: shape as number[], offset: dataStart + off[0], nbytes, numel });
  }
  const sorted = [...entries.values()].filter((e) => e.nbytes > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].nbytes)
      f.fail(`tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap in the file`);
  return { entries, metadata };
}
