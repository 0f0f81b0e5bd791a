// Structure-aware llama2.c mutations: the checkpoint header ints (legacy and version 1)
// and the tokenizer file's max_token_length, record lengths and scores.
import { interestingI32 } from './interesting';
import type { Mutated } from './mutate-bytes';
import type { Rng } from './rng';

const HEADER = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
const V1_MAGIC = 0x616b3432;

export function mutateLlama2cHeader(b: Buffer, r: Rng): Mutated | undefined {
  if (b.length < 28) return undefined;
  const out = Buffer.from(b);
  const v1 = b.length >= 37 && b.readUInt32LE(0) === V1_MAGIC;
  const base = v1 ? 8 : 0;
  if (v1 && r.chance(0.2)) {
    const which = r.pick(['version', 'shared_classifier']);
    if (which === 'version') {
      const v = r.pick([0, 2, 3, -1, 0x7fffffff]);
      out.writeInt32LE(v, 4);
      return { data: out, desc: `llama2.c v1 version := ${v}` };
    }
    const v = r.pick([0, 2, 255]);
    out[36] = v;
    return { data: out, desc: `llama2.c v1 shared_classifier flag := ${v}` };
  }
  const i = r.int(0, HEADER.length - 1);
  const at = base + 4 * i;
  const v = interestingI32(r, out.readInt32LE(at));
  out.writeInt32LE(v, at);
  return { data: out, desc: `llama2.c header ${HEADER[i]} := ${v}` };
}

/** Offsets of each record's (score, length) pair, as far as the records can be walked. */
function tokenizerRecords(b: Buffer): number[] {
  const out: number[] = [];
  let p = 4;
  while (p + 8 <= b.length && out.length < 100000) {
    const len = b.readInt32LE(p + 4);
    if (len < 0 || p + 8 + len > b.length) break;
    out.push(p);
    p += 8 + len;
  }
  return out;
}

export function mutateLlama2cTokenizer(b: Buffer, r: Rng): Mutated | undefined {
  if (b.length < 4) return undefined;
  const out = Buffer.from(b);
  const records = tokenizerRecords(b);
  if (records.length === 0 || r.chance(0.15)) {
    const v = interestingI32(r, out.readInt32LE(0));
    out.writeInt32LE(v, 0);
    return { data: out, desc: `llama2.c tokenizer max_token_length := ${v}` };
  }
  const k = r.int(0, records.length - 1);
  const at = records[k];
  if (r.chance(0.3)) {
    const v = r.pick([NaN, Infinity, -Infinity, 3.4e38, -0, 1e-45]);
    out.writeFloatLE(v, at);
    return { data: out, desc: `llama2.c tokenizer token ${k} score := ${v}` };
  }
  const v = interestingI32(r, out.readInt32LE(at + 4));
  out.writeInt32LE(v, at + 4);
  return { data: out, desc: `llama2.c tokenizer token ${k} length := ${v}` };
}
