// llama.cpp's legacy imatrix file (.dat), learned from tools/imatrix/imatrix.cpp and
// common/imatrix-loader.cpp of llama.cpp (the version node-llama-cpp 3.x bundles) and
// written here from that description. Little-endian:
//
//   i32 n_entries (> 0)
//   n_entries x { i32 name_len, name bytes (no NUL), i32 ncall, i32 nval, f32 values[nval] }
//   optional trailer: i32 chunk_count, i32 dataset_len, dataset bytes
//
// values[j] = (sum over tokens of x_j^2 / tokens) x ncall, ncall = ceil(tokens / chunk
// size): llama.cpp's quantizer divides the values by ncall, so values / ncall is the mean
// of x_j^2. The token count itself is not in the file (llama.cpp's own loader guesses it
// as ncall x its -c), so shears reads an entry as sum = values and count = ncall chunks.
import { ShapeError } from '../errors';
import { MAX_GGUF_TENSORS } from './gguf';
import { ImatrixEntry, ImatrixFile, ImatrixOut, sortedTensors } from './imatrix';
import { Cursor, decodeUtf8, MappedFile } from './mapped';

/** Longest tensor name taken (llama.cpp's own are under 64 bytes). */
const MAX_NAME_BYTES = 1024;
/** Smallest entry: name length, a 1-byte name, ncall, nval and one value. */
const MIN_ENTRY_BYTES = 4 + 1 + 4 + 4 + 4;
/** Entries taken, as GGUF tensors (a mixture-of-experts legacy file has one per expert: about a thousand). */
const MAX_ENTRIES = MAX_GGUF_TENSORS;

/** Reads the entries' names and sizes (values stay in the mapping until asked for). */
export function readImatrixDat(path: string): ImatrixFile {
  const f: MappedFile = MappedFile.open(path);
  try {
    const c = new Cursor(f);
    const n = c.i32('entry count');
    if (n < 1) f.fail(`legacy imatrix entry count ${n}: no data (a legacy imatrix starts with a positive int32 count)`);
    if (n > MAX_ENTRIES) f.fail(`legacy imatrix entry count ${n} is implausibly large (at most ${MAX_ENTRIES}): not an imatrix file, or corrupt`);
    if (n > Math.floor((f.size - 4) / MIN_ENTRY_BYTES)) f.fail(`legacy imatrix entry count ${n} cannot fit in ${f.size} bytes: not an imatrix file, or corrupt`);
    const entries: ImatrixEntry[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const len = c.i32(`entry ${i} name length`);
      if (len < 1 || len > MAX_NAME_BYTES) f.fail(`entry ${i} name length ${len} is outside 1..${MAX_NAME_BYTES}: not an imatrix file, or corrupt`);
      const name = decodeUtf8(c.bytes(len, `entry ${i} name`));
      if (seen.has(name)) f.fail(`entry ${name} appears twice`);
      seen.add(name);
      const ncall = c.i32(`entry ${name} ncall`);
      if (ncall < 1) f.fail(`entry ${name} has ncall ${ncall}: its values cannot be turned into a mean (ncall must be >= 1)`);
      const nval = c.i32(`entry ${name} value count`);
      if (nval < 1) f.fail(`entry ${name} has ${nval} values`);
      const offset = c.pos;
      c.bytes(nval * 4, `entry ${name} values (${nval} float32)`);
      entries.push({ name, columns: nval, matrices: 1, counts: [ncall], values: () => f.tensorData('f32', offset, nval, `entry ${name} values`) as Float32Array });
    }
    let chunkCount: number | undefined;
    const datasets: string[] = [];
    // The trailer is optional (older llama.cpp did not write it); when present it must be whole.
    if (c.pos < f.size) {
      chunkCount = c.i32('trailer chunk count');
      if (c.pos < f.size) {
        const len = c.i32('trailer dataset name length');
        if (len < 0 || len > f.size - c.pos) f.fail(`trailer dataset name length ${len} does not fit the ${f.size - c.pos} bytes left: truncated or corrupt`);
        if (len > 0) datasets.push(decodeUtf8(c.bytes(len, 'trailer dataset name')));
      }
      if (c.pos !== f.size) f.fail(`${f.size - c.pos} bytes after the trailer: not a legacy imatrix file, or corrupt`);
    }
    return { path, form: 'dat', countUnit: 'chunks', entries, datasets, chunkCount, metadata: {}, close: () => f.close() };
  } catch (e) {
    f.close();
    throw e;
  }
}

/** The legacy file's bytes, values = sum / tokens x ncall with ncall = o.chunks (as llama.cpp writes them). */
export function encodeImatrixDat(o: ImatrixOut): Buffer {
  const parts: Buffer[] = [];
  const int = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    parts.push(b);
  };
  const tensors = sortedTensors(o);
  if (tensors.length === 0) throw new ShapeError('a legacy imatrix needs at least one entry');
  int(tensors.length);
  for (const t of tensors) {
    const name = Buffer.from(t.name, 'utf8');
    int(name.length);
    parts.push(name);
    int(o.chunks);
    int(t.sumSq.length);
    const values = new Float32Array(t.sumSq.length);
    for (let j = 0; j < values.length; j++) values[j] = t.tokens > 0 ? (t.sumSq[j] / t.tokens) * o.chunks : 0;
    parts.push(Buffer.from(values.buffer));
  }
  int(o.chunks);
  const dataset = Buffer.from(o.dataset, 'utf8');
  int(dataset.length);
  parts.push(dataset);
  return Buffer.concat(parts);
}
