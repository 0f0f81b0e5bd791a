// Structure-aware GGUF mutations: a tolerant walk over the header records where each
// count, length, type, dimension and offset lives, then one of them is set to a value
// that breaks naive readers (huge counts and lengths, unknown types, huge dimensions).
import { interestingU32, interestingU64 } from './interesting';
import type { Mutated } from './mutate-bytes';
import type { Rng } from './rng';

type FieldKind = 'version' | 'count' | 'length' | 'kv-type' | 'item-type' | 'n-dims' | 'dim' | 'tensor-type' | 'offset' | 'kv-u32' | 'kv-u64' | 'f32-item' | 'i32-item';

interface Field {
  what: string;
  kind: FieldKind;
  at: number;
  width: 4 | 8;
  /** An f32/i32 array: `at` is its first item, one of `items` is mutated. */
  items?: number;
}

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** The header fields of `b`, as far as they can be walked (stops at the first inconsistency). */
export function ggufFields(b: Buffer): Field[] {
  const out: Field[] = [];
  let p = 4;
  const need = (n: number): boolean => p + n <= b.length;
  const u64 = (): number => Number(b.readBigUInt64LE(p));
  if (b.length < 24 || b.toString('latin1', 0, 4) !== 'GGUF') return out;
  out.push({ what: 'version', kind: 'version', at: 4, width: 4 });
  out.push({ what: 'tensor_count', kind: 'count', at: 8, width: 8 }, { what: 'kv_count', kind: 'count', at: 16, width: 8 });
  const nTensors = Number(b.readBigUInt64LE(8));
  const nKv = Number(b.readBigUInt64LE(16));
  p = 24;
  const str = (what: string): string | undefined => {
    if (!need(8)) return undefined;
    const n = u64();
    out.push({ what: `${what} length`, kind: 'length', at: p, width: 8 });
    if (!need(8 + n)) return undefined;
    const s = b.toString('utf8', p + 8, p + 8 + n);
    p += 8 + n;
    return s;
  };
  for (let i = 0; i < nKv && i < 100000; i++) {
    const key = str(`kv[${i}].key`);
    if (key === undefined || !need(4)) return out;
    const type = b.readUInt32LE(p);
    out.push({ what: `kv[${i}] ${key} type`, kind: 'kv-type', at: p, width: 4 });
    p += 4;
    if (type === 8) {
      if (str(`kv[${i}] ${key} string`) === undefined) return out;
    } else if (type === 9) {
      if (!need(12)) return out;
      const item = b.readUInt32LE(p);
      out.push({ what: `kv[${i}] ${key} item type`, kind: 'item-type', at: p, width: 4 });
      out.push({ what: `kv[${i}] ${key} array count`, kind: 'count', at: p + 4, width: 8 });
      const n = Number(b.readBigUInt64LE(p + 4));
      p += 12;
      if (item === 8) {
        for (let j = 0; j < n; j++) if (str(`kv[${i}] ${key}[${j}]`) === undefined) return out;
      } else {
        const w = SCALAR_BYTES[item];
        if (w === undefined || !need(w * n)) return out;
        if (n > 0 && item === 6) out.push({ what: `kv[${i}] ${key} item`, kind: 'f32-item', at: p, width: 4, items: n });
        if (n > 0 && (item === 4 || item === 5)) out.push({ what: `kv[${i}] ${key} item`, kind: 'i32-item', at: p, width: 4, items: n });
        p += w * n;
      }
    } else {
      const w = SCALAR_BYTES[type];
      if (w === undefined || !need(w)) return out;
      if (type === 4 || type === 5) out.push({ what: `kv[${i}] ${key} value`, kind: 'kv-u32', at: p, width: 4 });
      if (type === 10 || type === 11) out.push({ what: `kv[${i}] ${key} value`, kind: 'kv-u64', at: p, width: 8 });
      p += w;
    }
  }
  for (let i = 0; i < nTensors && i < 100000; i++) {
    const name = str(`tensor[${i}].name`);
    if (name === undefined || !need(4)) return out;
    const nd = b.readUInt32LE(p);
    out.push({ what: `tensor[${i}] ${name} n_dims`, kind: 'n-dims', at: p, width: 4 });
    p += 4;
    if (nd > 8 || !need(8 * nd + 12)) return out;
    for (let d = 0; d < nd; d++) out.push({ what: `tensor[${i}] ${name} ne[${d}]`, kind: 'dim', at: p + 8 * d, width: 8 });
    p += 8 * nd;
    out.push({ what: `tensor[${i}] ${name} type`, kind: 'tensor-type', at: p, width: 4 });
    out.push({ what: `tensor[${i}] ${name} offset`, kind: 'offset', at: p + 4, width: 8 });
    p += 12;
  }
  return out;
}

/** ggml types: a supported one (F32, F16, BF16, Q8_0), a known unsupported one, and an unknown one. */
const TENSOR_TYPES = [0, 1, 30, 8, 2, 3, 6, 7, 10, 12, 14, 16, 24, 39, 40, 99, 0xffffffff];
/** GGUF value types, including the invalid 13 and beyond. */
const VALUE_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 255, 0xffffffff];

export function mutateGgufField(b: Buffer, r: Rng): Mutated | undefined {
  const fields = ggufFields(b);
  if (fields.length === 0) return undefined;
  // Kind first, then a field of it: the many token-string lengths must not crowd out the rest.
  const kind = r.pick([...new Set(fields.map((x) => x.kind))]);
  const f = r.pick(fields.filter((x) => x.kind === kind));
  const out = Buffer.from(b);
  if (f.items !== undefined) {
    const k = r.int(0, f.items - 1);
    const at = f.at + 4 * k;
    const v = f.kind === 'f32-item' ? r.pick([NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 0]) : r.pick([-1, 0x7fffffff, -0x80000000, 7, 255, f.items, f.items + 1]);
    if (f.kind === 'f32-item') out.writeFloatLE(v, at);
    else out.writeInt32LE(v, at);
    return { data: out, desc: `gguf ${f.what} [${k}] (at 0x${at.toString(16)}) := ${v}` };
  }
  let v: number | bigint;
  if (f.width === 8) {
    v = f.kind === 'dim' && r.chance(0.4) ? r.pick([0n, 1n << 31n, 1n << 32n, 1n << 40n, 1n << 62n]) : interestingU64(r, out.readBigUInt64LE(f.at), out.length);
    out.writeBigUInt64LE(v, f.at);
  } else {
    const cur = out.readUInt32LE(f.at);
    if (f.kind === 'tensor-type') v = r.pick(TENSOR_TYPES);
    else if (f.kind === 'kv-type' || f.kind === 'item-type') v = r.pick(VALUE_TYPES);
    else if (f.kind === 'n-dims') v = r.pick([0, 1, 2, 3, 4, 5, 8, 64, 0xffffffff]);
    else if (f.kind === 'kv-u32') v = r.chance(0.5) ? r.pick([0, 1 << 20, 1 << 30, 1000000000, 0x7fffffff, 0xffffffff]) : interestingU32(r, cur);
    else v = interestingU32(r, cur);
    out.writeUInt32LE(v, f.at);
  }
  return { data: out, desc: `gguf ${f.what} (${f.width * 8}-bit at 0x${f.at.toString(16)}) := ${v}` };
}

/** Same-length substitutions: another architecture's names for every key, another tokenizer model, a dtype name. */
const SUBSTITUTIONS: [string, string][] = [
  ['llama', 'qwen2'],
  ['llama', 'gpt2.'],
  ['llama', 'falcn'],
  ['general.architecture', 'general.architectur_'],
  ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_'],
  ['block_count', 'block_coun_'],
  ['.weight', '.wei9ht'],
];

/** Replaces every occurrence (or only the first) of a name in the header with one of the same length. */
export function substituteGgufName(b: Buffer, r: Rng): Mutated | undefined {
  const [from, to] = r.pick(SUBSTITUTIONS);
  const first = b.indexOf(from, 0, 'latin1');
  if (first < 0) return undefined;
  const out = Buffer.from(b);
  const all = r.chance(0.6);
  let n = 0;
  for (let at = first; at >= 0 && (all || n === 0); at = out.indexOf(from, at + from.length, 'latin1')) {
    out.write(to, at, 'latin1');
    n++;
  }
  return { data: out, desc: `gguf replace ${all ? 'every' : 'the first'} "${from}" with "${to}" (${n}x)` };
}
