// Drawing calibration sequences as the Wanda/SparseGPT reference code does
// (see shared protocols): K sequences of L tokens.
//  random:     pick a random document with more than L tokens, then a random window of
//              L tokens inside it (seeded). When no document is that long (short user
//              queries), the documents are packed into one stream and the windows are
//              drawn from it; the result says so.
//  contiguous: the first K windows of the concatenated token stream (documents joined
//              with a blank line, BOS once at the start).
//  Both come in two forms that run the same steps (lib/calibration/steps.ts): at once,
//  and in time slices that let the event loop run between tokenizer calls (prune() in a
//  service must not stall it).
import { SeededRandom } from '../util/random';
import { CalibrationError } from './read';
import { reuseWarning } from './reuse';
import { runInSlices, runNow, SliceOptions, Steps } from './steps';

/** What calibration needs from a tokenizer. */
export interface CalibrationTokenizer {
  encode(text: string, opts?: { bos?: boolean }): number[];
  /** encode() as steps of bounded work (the SentencePiece encoder has it): long texts are then cut into slices too. */
  encodeSteps?(text: string, opts?: { bos?: boolean }): Steps<number[]>;
}

/** One tokenizer call as steps: the tokenizer's own when it has them, else one step. */
function* encodeSteps(tokenizer: CalibrationTokenizer, text: string): Steps<number[]> {
  if (tokenizer.encodeSteps) return yield* tokenizer.encodeSteps(text, { bos: true });
  const ids = tokenizer.encode(text, { bos: true });
  yield;
  return ids;
}

export type CalibrationSampling = 'random' | 'contiguous';

/** The calibration options `shears prune` and `shears sweep` share. */
export interface CalibrationArgs {
  /** Text / JSONL calibration file (user queries or a corpus). */
  calib?: string;
  /** JSON array of token ids. */
  calibTokens?: string;
  /** Number of sequences (default 128). */
  calibSamples?: number;
  /** Sequence length (default min(2048, the model's context length)). */
  seqLen?: number;
  calibSampling?: CalibrationSampling;
  /** Seed of the random sampling (default 0). */
  seed?: number;
}

export interface CalibrationOptions {
  samples: number;
  seqLen: number;
  sampling: CalibrationSampling;
  seed: number;
}

export interface CalibrationSet {
  /** samples x seqLen token ids, row-major. */
  tokens: Int32Array;
  samples: number;
  seqLen: number;
  sampling: CalibrationSampling;
  seed: number;
  /** True when short documents were packed into one stream before sampling. */
  packed: boolean;
  /** Human-readable notes for the report (packing, fewer windows than asked...). */
  notes: string[];
  /** Set (and in notes) when random windows cover more tokens than the data holds: the caller says it on the terminal. */
  reuseWarning?: string;
}

/** The set with the warning (and its note) when its random windows reuse the `available` tokens of `what`. */
function withReuse(set: CalibrationSet, available: number, what: string): CalibrationSet {
  const w = reuseWarning(set.samples, set.seqLen, available, what);
  if (w) {
    set.reuseWarning = w;
    set.notes.push(w);
  }
  return set;
}

function checkOptions(o: CalibrationOptions): void {
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new RangeError(`calibration samples (--calib-samples) must be a positive integer, got ${o.samples}`);
  if (!Number.isInteger(o.seqLen) || o.seqLen < 2) throw new RangeError(`sequence length (--seq-len) must be an integer >= 2, got ${o.seqLen}`);
  if (o.sampling !== 'random' && o.sampling !== 'contiguous')
    throw new RangeError(`calibration sampling (--calib-sampling) must be random or contiguous, got ${String(o.sampling)}`);
}

/** Contiguous windows (or random windows, seeded) from one token stream. */
export function windowsFromStream(stream: ArrayLike<number>, o: CalibrationOptions, what: string): CalibrationSet {
  return runNow(windowSteps(stream, o, what));
}

/** windowsFromStream, one window per step. */
function* windowSteps(stream: ArrayLike<number>, o: CalibrationOptions, what: string): Steps<CalibrationSet> {
  checkOptions(o);
  const L = o.seqLen;
  const n = Math.floor(stream.length / L);
  if (n < 1)
    throw new CalibrationError(`${what} has ${stream.length} tokens, fewer than one sequence of ${L}; use a shorter --seq-len or more data`);
  const notes: string[] = [];
  const tokens = new Int32Array(o.samples * L);
  if (o.sampling === 'contiguous') {
    const k = Math.min(o.samples, n);
    if (k < o.samples) notes.push(`only ${k} contiguous windows of ${L} tokens available (asked for ${o.samples})`);
    for (let i = 0; i < k; i++) {
      tokens.set(Array.prototype.slice.call(stream, i * L, (i + 1) * L) as number[], i * L);
      yield;
    }
    return { tokens: tokens.subarray(0, k * L), samples: k, seqLen: L, sampling: o.sampling, seed: o.seed, packed: false, notes };
  }
  const rng = new SeededRandom(o.seed);
  for (let s = 0; s < o.samples; s++) {
    const start = rng.int(0, stream.length - L);
    tokens.set(Array.prototype.slice.call(stream, start, start + L) as number[], s * L);
    yield;
  }
  return withReuse({ tokens, samples: o.samples, seqLen: L, sampling: o.sampling, seed: o.seed, packed: false, notes }, stream.length, what);
}

/**
 * Samples calibration sequences from documents with the protocol above. `source` (the
 * file the documents came from) names the data in errors.
 */
export function sampleCalibration(
  documents: string[],
  tokenizer: CalibrationTokenizer,
  o: CalibrationOptions,
  source = 'the calibration text',
): CalibrationSet {
  return runNow(sampleSteps(documents, tokenizer, o, source));
}

/**
 * sampleCalibration in time slices: the event loop runs between tokenizer calls, and
 * inside them when the tokenizer has encodeSteps (SentencePiece: llama2.c and GGUF
 * models). Otherwise one call is never cut: a very long document, or the one call of
 * contiguous sampling, holds the loop for as long as the tokenizer takes (the HF
 * tokenizer library encodes in one synchronous call). Same result, same seed.
 */
export function sampleCalibrationSliced(
  documents: string[],
  tokenizer: CalibrationTokenizer,
  o: CalibrationOptions,
  source = 'the calibration text',
  slices: SliceOptions = {},
): Promise<CalibrationSet> {
  return runInSlices(sampleSteps(documents, tokenizer, o, source), slices);
}

/** The sampling protocol, in steps: each tokenizer call's, and one per window copied. */
function* sampleSteps(documents: string[], tokenizer: CalibrationTokenizer, o: CalibrationOptions, source: string): Steps<CalibrationSet> {
  checkOptions(o);
  const L = o.seqLen;
  if (o.sampling === 'contiguous') {
    const stream = yield* encodeSteps(tokenizer, documents.join('\n\n'));
    return yield* windowSteps(stream, o, source);
  }
  // random, as the reference code does it: draw a document, tokenize it (BOS at its
  // start, as the reference tokenizer call does), and draw again while it has no more
  // than L tokens. Only the documents drawn are tokenized, so a large corpus costs
  // little; when every document turned out short, they are packed instead.
  const cache = new Map<number, number[]>();
  const short = new Set<number>();
  const rng = new SeededRandom(o.seed);
  const tokens = new Int32Array(o.samples * L);
  const used = new Set<number>();
  for (let s = 0; s < o.samples; s++) {
    let doc: number[] | undefined;
    while (!doc) {
      if (short.size === documents.length) return yield* packedSteps(documents, cache, o, source);
      const i = rng.int(0, documents.length - 1);
      if (short.has(i)) continue;
      let t = cache.get(i);
      if (!t) cache.set(i, (t = yield* encodeSteps(tokenizer, documents[i])));
      if (t.length > L) {
        doc = t;
        used.add(i);
      } else short.add(i);
    }
    const start = rng.int(0, doc.length - L - 1);
    tokens.set(doc.slice(start, start + L), s * L);
  }
  const notes =
    short.size > 0
      ? [`windows drawn from ${used.size} documents longer than ${L} tokens; ${short.size} drawn documents were too short and skipped`]
      : [];
  let available = 0;
  for (const i of used) available += cache.get(i)!.length;
  const set: CalibrationSet = { tokens, samples: o.samples, seqLen: L, sampling: 'random', seed: o.seed, packed: false, notes };
  return withReuse(set, available, `the ${used.size} documents drawn from ${source}`);
}

/** Every document (all short, all tokenized in `encoded`) packed into one token stream, windows drawn from it. */
function* packedSteps(documents: string[], encoded: Map<number, number[]>, o: CalibrationOptions, source: string): Steps<CalibrationSet> {
  const stream: number[] = [];
  for (let i = 0; i < documents.length; i++) {
    for (const t of encoded.get(i)!) stream.push(t);
    yield;
  }
  const set = yield* windowSteps(stream, o, `${source} (all ${documents.length} documents packed)`);
  set.packed = true;
  set.notes.push(`no document has more than ${o.seqLen} tokens: ${documents.length} documents were packed into one stream of ${stream.length} tokens`);
  return set;
}
