// llama.cpp's GGUF imatrix, learned from tools/imatrix/imatrix.cpp (save_imatrix) and
// common/imatrix-loader.cpp of llama.cpp and written here from that description. A GGUF
// file without a model: metadata general.type = "imatrix", imatrix.datasets (string
// array), imatrix.chunk_count and imatrix.chunk_size (uint32); per weight tensor NAME two
// F32 tensors, NAME.in_sum2 (ne = [columns, matrices]: the sum over tokens of x_j^2) and
// NAME.counts (ne = [1, matrices]: the tokens summed, as floats), and in newer versions
// NAME.in_sum (the sum of x_j). llama.cpp's quantizer uses in_sum2 / counts; other
// tensors are ignored, as llama.cpp ignores them. The container is read by the model
// loader's own bounded parser (lib/formats/gguf.ts).
import { GGUFEntry } from '../model/types';
import { writeAll } from './atomic';
import { parseGGUF, GGUFTensorInfo } from './gguf';
import { encodeGGUFHeader, GGUFTensorOut } from './gguf-encode';
import { GGUFStringArray } from './gguf-strings';
import { ImatrixEntry, ImatrixFile, ImatrixOut, sortedTensors } from './imatrix';
import { MappedFile } from './mapped';

const F32 = 0;
const ALIGNMENT = 32;
const SUFFIXES = ['.in_sum2', '.counts', '.in_sum'] as const;

function splitName(name: string): { base: string; suffix: (typeof SUFFIXES)[number] } | undefined {
  for (const suffix of SUFFIXES) if (name.endsWith(suffix) && name.length > suffix.length) return { base: name.slice(0, -suffix.length), suffix };
  return undefined;
}

function u32(f: MappedFile, e: GGUFEntry | undefined, key: string): number | undefined {
  if (!e) return undefined;
  if (e.type !== 'uint32') f.fail(`metadata ${key} must be a uint32, got ${e.type}`);
  return Number(e.value);
}

/** Reads the entries' names, shapes and counts (the sums stay in the mapping until asked for). */
export function readImatrixGGUF(path: string): ImatrixFile {
  const f: MappedFile = MappedFile.open(path);
  try {
    const g = parseGGUF(f);
    const type = g.byKey.get('general.type')?.value;
    if (type !== undefined && type !== 'imatrix') f.fail(`general.type is '${String(type)}', not 'imatrix': a GGUF ${String(type)}, not an importance matrix`);
    const parts = new Map<string, Partial<Record<(typeof SUFFIXES)[number], GGUFTensorInfo>>>();
    for (const t of g.tensors) {
      const s = splitName(t.name);
      if (!s) continue; // llama.cpp ignores other tensors too
      const p = parts.get(s.base) ?? {};
      p[s.suffix] = t;
      parts.set(s.base, p);
    }
    const entries: ImatrixEntry[] = [];
    for (const [name, p] of parts) {
      const sums = p['.in_sum2'];
      const counts = p['.counts'];
      if (!sums || !counts) f.fail(`tensor ${name} has ${sums ? 'in_sum2 without counts' : 'counts or in_sum without in_sum2'} (llama.cpp refuses it too)`);
      if (sums.type !== F32 || counts.type !== F32) f.fail(`${name}.in_sum2 and ${name}.counts must be F32`);
      const [columns, ...rest] = sums.ne;
      const matrices = rest.reduce((a, b) => a * b, 1);
      if (counts.numel !== matrices) f.fail(`${name}.counts has ${counts.numel} values for ${matrices} matrices in ${name}.in_sum2`);
      const c = f.tensorData('f32', counts.offset, counts.numel, `tensor ${name}.counts`) as Float32Array;
      const list = Array.from(c, (v, i) => {
        if (!Number.isFinite(v) || v < 0) f.fail(`${name}.counts[${i}] = ${v}: a count must be a finite number >= 0`);
        return Math.round(v);
      });
      entries.push({ name, columns, matrices, counts: list, values: () => f.tensorData('f32', sums.offset, sums.numel, `tensor ${name}.in_sum2`) as Float32Array });
    }
    if (entries.length === 0)
      f.fail(`no <tensor>.in_sum2 / <tensor>.counts pairs: not a llama.cpp imatrix${g.byKey.has('general.architecture') ? ' (this GGUF holds a model)' : ''}`);
    const ds = g.byKey.get('imatrix.datasets');
    const datasets = ds?.value instanceof GGUFStringArray ? ds.value.toArray() : [];
    const metadata: Record<string, string> = {};
    for (const e of g.entries) if (e.type === 'string' && e.key.startsWith('shears.')) metadata[e.key] = String(e.value);
    return {
      path,
      form: 'gguf',
      countUnit: 'tokens',
      entries: entries.sort((a, b) => (a.name < b.name ? -1 : 1)),
      datasets,
      chunkCount: u32(f, g.byKey.get('imatrix.chunk_count'), 'imatrix.chunk_count'),
      chunkSize: u32(f, g.byKey.get('imatrix.chunk_size'), 'imatrix.chunk_size'),
      metadata,
      close: () => f.close(),
    };
  } catch (e) {
    f.close();
    throw e;
  }
}

/** Writes the GGUF imatrix to the open file `fd`: in_sum2, counts and (when given) in_sum per tensor, as llama.cpp does. */
export function writeImatrixGGUF(fd: number, o: ImatrixOut): void {
  const metadata: GGUFEntry[] = [
    { key: 'general.type', type: 'string', value: 'imatrix' },
    { key: 'imatrix.datasets', type: 'array', itemType: 'string', value: [o.dataset] },
    { key: 'imatrix.chunk_count', type: 'uint32', value: o.chunks },
    { key: 'imatrix.chunk_size', type: 'uint32', value: o.chunkSize },
    ...Object.entries(o.metadata ?? {}).map(([key, value]): GGUFEntry => ({ key, type: 'string', value })),
  ];
  const data: Float32Array[] = [];
  const infos: GGUFTensorOut[] = [];
  let offset = 0;
  const add = (name: string, values: Float32Array) => {
    infos.push({ name, shape: [values.length], type: F32, offset });
    data.push(values);
    offset += Math.ceil(values.byteLength / ALIGNMENT) * ALIGNMENT;
  };
  for (const t of sortedTensors(o)) {
    add(`${t.name}.in_sum2`, Float32Array.from(t.sumSq));
    add(`${t.name}.counts`, Float32Array.of(t.tokens));
    if (t.sum) add(`${t.name}.in_sum`, Float32Array.from(t.sum));
  }
  const header = encodeGGUFHeader(metadata, infos);
  writeAll(fd, header);
  let pos = header.length;
  const padTo = (to: number) => {
    if (to > pos) writeAll(fd, new Uint8Array(to - pos));
    pos = Math.max(pos, to);
  };
  const dataStart = Math.ceil(pos / ALIGNMENT) * ALIGNMENT;
  infos.forEach((info, i) => {
    padTo(dataStart + info.offset);
    writeAll(fd, new Uint8Array(data[i].buffer));
    pos += data[i].byteLength;
  });
  padTo(dataStart + offset);
}
