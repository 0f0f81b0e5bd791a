// llama2.c's encode() with the same result, in O(n log n):
//   1. optional BOS, then the id of " " (dummy prefix) when the text is non-empty;
//   2. one symbol per UTF-8 code point when the vocabulary has it, else one per byte
//      (byte + 3 for llama2.c, the byte token for GGUF; see SpmVocab.byteIds);
//   3. repeatedly merge the adjacent pair whose concatenation is a piece with the highest
//      score, the leftmost pair on ties, scores must beat llama2.c's -1e10 start value.
// llama2.c rescans the whole array per merge (O(n^2)); here candidate pairs sit in a heap
// ordered by (score desc, left symbol's original position asc) and a linked list keeps the
// order. The original position orders pairs exactly as llama2.c's array index does, so the
// picks, and the output, are identical for the whole string: no splitting is needed.
// One deliberate difference: a NUL character ends a C string, llama2.c would stop there;
// here it is encoded like any other character.
// The encoder is a generator of steps (lib/calibration/steps.ts) so that a very long text
// (contiguous calibration encodes a whole file at once) can be encoded in time slices.
import { ShearsError } from '../errors';
import { runNow, Steps } from '../calibration/steps';
import { MergeWord } from './merge-word';
import type { SpmVocab } from './spm-vocab';

const MIN_SCORE = -1e10; // llama2.c: float best_score = -1e10, merged only if score > it

/** Characters read, or merges made, between two steps: well under a millisecond of work. */
const WORK_PER_STEP = 4096;

export function spmEncode(v: SpmVocab, text: string, bos: boolean, eos: boolean): number[] {
  return runNow(spmEncodeSteps(v, text, bos, eos));
}

/** spmEncode as steps of WORK_PER_STEP characters or merges: the same ids. */
export function* spmEncodeSteps(v: SpmVocab, text: string, bos: boolean, eos: boolean): Steps<number[]> {
  const sym = yield* initialSymbolSteps(v, text, bos);
  const merged = yield* mergeSteps(v, sym);
  if (eos) merged.push(requireId(v, v.eos, 'EOS'));
  return merged;
}

function requireId(v: SpmVocab, id: number | undefined, what: string): number {
  if (id === undefined) throw new ShearsError(`${v.origin}: the vocabulary has no ${what} token`, 'E_TOKENIZER');
  return id;
}

/** Steps 1 and 2: ids before any merge. */
export function initialSymbols(v: SpmVocab, text: string, bos: boolean): Int32Array {
  return runNow(initialSymbolSteps(v, text, bos));
}

function* initialSymbolSteps(v: SpmVocab, text: string, bos: boolean): Steps<Int32Array> {
  const out = new Int32Array(2 + 3 * text.length);
  let n = 0;
  if (bos) out[n++] = requireId(v, v.bos, 'BOS');
  if (text.length === 0) return out.subarray(0, n);
  const space = v.lookup.get(' ');
  if (space === undefined) throw new ShearsError(`${v.origin}: the vocabulary has no " " piece for the dummy prefix`, 'E_TOKENIZER');
  out[n++] = space;
  const cache = new Map<number, number | number[]>();
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const lo = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else {
        cp = 0xfffd; // lone surrogate: what UTF-8 encoding of the string gives
      }
    }
    let r = cache.get(cp);
    if (r === undefined) {
      r = codepointIds(v, cp);
      cache.set(cp, r);
    }
    if (typeof r === 'number') out[n++] = r;
    else for (const id of r) out[n++] = id;
    if (i % WORK_PER_STEP === WORK_PER_STEP - 1) yield;
  }
  return out.subarray(0, n);
}

function codepointIds(v: SpmVocab, cp: number): number | number[] {
  const key = utf8ByteString(cp);
  const id = v.lookup.get(key);
  if (id !== undefined) return id;
  const ids: number[] = [];
  for (let k = 0; k < key.length; k++) {
    const b = key.charCodeAt(k);
    const fid = v.byteIds[b];
    if (fid < 0) {
      const ch = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new ShearsError(
        `${v.origin}: character ${ch} is not in the vocabulary, which has neither a byte token for 0x${b.toString(16)} nor an unk token`,
        'E_TOKENIZER',
      );
    }
    ids.push(fid);
  }
  return ids.length === 1 ? ids[0] : ids;
}

function utf8ByteString(cp: number): string {
  const f = String.fromCharCode;
  if (cp < 0x80) return f(cp);
  if (cp < 0x800) return f(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  if (cp < 0x10000) return f(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  return f(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

/** Step 3 on a symbol sequence (exported for tests). */
export function mergeAll(v: SpmVocab, init: Int32Array): number[] {
  return runNow(mergeSteps(v, init));
}

function* mergeSteps(v: SpmVocab, init: Int32Array): Steps<number[]> {
  const n = init.length;
  if (n < 2) return Array.from(init);
  const w = new MergeWord(n);
  w.sym.set(init);
  w.start(n);
  const pairs = new PairCache(v);
  const offer = (l: number, r: number): void => {
    const m = pairs.merged(w.sym[l], w.sym[r]);
    if (m >= 0) w.offer(v.scores[m], l, r, m);
  };
  for (let i = 0; i + 1 < n; i++) {
    offer(i, i + 1);
    if (i % WORK_PER_STEP === WORK_PER_STEP - 1) yield;
  }
  let work = 0;
  while (w.heap.size > 0) {
    if (++work === WORK_PER_STEP) {
      work = 0;
      yield;
    }
    const l = w.step();
    if (l < 0) continue; // stale
    if (w.prev[l] >= 0) offer(w.prev[l], l);
    if (w.next[l] >= 0) offer(l, w.next[l]);
  }
  return w.positions().map((i) => w.sym[i]);
}

/** (left id, right id) -> id of their concatenation when it is an eligible piece, else -1. */
class PairCache {
  private readonly cache = new Map<number, number>();
  private readonly stride: number;
  constructor(private readonly v: SpmVocab) {
    this.stride = v.bytes.length;
  }
  merged(a: number, b: number): number {
    const key = a * this.stride + b;
    let m = this.cache.get(key);
    if (m === undefined) {
      const id = this.v.lookup.get(this.v.bytes[a] + this.v.bytes[b]);
      m = id !== undefined && this.v.scores[id] > MIN_SCORE ? id : -1;
      this.cache.set(key, m);
    }
    return m;
  }
}
