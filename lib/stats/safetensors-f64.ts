// The container of shears' importance files: safetensors with F64 (sums, kept exact) and
// F32 tensors. The model loader's reader (lib/formats/safetensors.ts) takes the model
// dtypes only, so this one validates the same rules for these dtypes: header length at
// most 100 MB and inside the file, bounded JSON (lib/formats/json-bounds.ts), shapes that
// match their byte spans, tensors that tile the data exactly. Values are copied out only
// when asked for, one tensor at a time.
import { writeAll } from '../formats/atomic';
import { parseJsonObject } from '../formats/json-bounds';
import { MappedFile } from '../formats/mapped';
import { MAX_SAFETENSORS_HEADER } from '../formats/safetensors';

const BYTES = { F64: 8, F32: 4 } as const;
export type StatsDType = keyof typeof BYTES;

export interface TensorOut {
  name: string;
  shape: number[];
  data: Float64Array | Float32Array;
}

export interface TensorIn {
  name: string;
  dtype: StatsDType;
  shape: number[];
  /** Copies the values out of the mapping (float64 for F64, float32 for F32). */
  read(): Float64Array | Float32Array;
}

/** Writes tensors (sorted by name) and string metadata to the open file `fd`. */
export function writeSafetensors(fd: number, tensors: TensorOut[], metadata: Record<string, string>): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of sorted) {
    const dtype: StatsDType = t.data instanceof Float64Array ? 'F64' : 'F32';
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  // Padded with spaces to a multiple of 8, so that the F64 data is aligned (as the crate does).
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  writeAll(fd, len);
  writeAll(fd, head);
  for (const t of sorted) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** The tensors and metadata of a mapped safetensors file of F64/F32 tensors. */
export function readSafetensors(f: MappedFile): { tensors: Map<string, TensorIn>; metadata: Record<string, string> } {
  if (f.size < 8) f.fail('too short for a safetensors file (no 8-byte header length)');
  const n = f.view.getBigUint64(0, true);
  if (n > BigInt(f.size - 8) || n > BigInt(MAX_SAFETENSORS_HEADER)) f.fail(`safetensors header length ${n} does not fit the file (${f.size} bytes) or the 100 MB limit: truncated or corrupt`);
  const start = 8 + Number(n);
  const header = parseJsonObject(f.path, f.bytes.subarray(8, start), 'the safetensors header');
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, TensorIn>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) f.fail('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') f.fail(`__metadata__ ${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) f.fail(`tensor ${name}: header entry is not an object`);
    const dtype = e.dtype === 'F64' || e.dtype === 'F32' ? e.dtype : f.fail(`tensor ${name} has dtype ${String(JSON.stringify(e.dtype)).slice(0, 40)}; importance files hold F64 and F32`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.length > 4 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) f.fail(`tensor ${name} has an invalid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[1] < off[0]) f.fail(`tensor ${name} has invalid data_offsets`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(numel) || numel * BYTES[dtype] !== off[1] - off[0]) f.fail(`tensor ${name}: shape [${shape.join(', ')}] of ${dtype} does not match its data_offsets`);
    if (start + off[1] > f.size) f.fail(`tensor ${name} lies past the end of the file (${f.size} bytes): truncated`);
    spans.push({ name, begin: off[0], end: off[1] });
    const at = start + off[0];
    tensors.set(name, {
      name,
      dtype,
      shape: shape as number[],
      read: () => {
        const out = dtype === 'F64' ? new Float64Array(numel) : new Float32Array(numel);
        new Uint8Array(out.buffer).set(f.bytes.subarray(at, at + out.byteLength));
        return out;
      },
    });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  for (const s of spans) {
    if (s.begin !== end) f.fail(`tensor ${s.name} ${s.begin < end ? 'overlaps the one before it' : 'leaves a gap before it'}: corrupt`);
    end = s.end;
  }
  if (start + end !== f.size) f.fail(`the tensors cover ${end} of the ${f.size - start} data bytes: truncated, trailing bytes, or corrupt`);
  return { tensors, metadata };
}
