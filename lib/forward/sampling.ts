// Choosing the next token from logits: greedy, or sampled from softmax(z / temperature)
// over the top-k largest logits. The per-vocabulary work is the native sampleTokens
// (native/cpu/sample_token.h, off the JavaScript thread); the uniform numbers come from
// a SeededRandom here, so a seed gives the same tokens on every machine.
import { ArgumentRangeError, nativeCall, ShapeError } from '../errors';
import { evalNative } from '../native/eval';
import { checkTypedArray } from '../tensor';
import { SeededRandom } from '../util/random';

export interface SamplingOptions {
  /** 0 (default): greedy. > 0: sample from softmax(logits / temperature). */
  temperature?: number;
  /** Sample among the k largest logits only (default 0: all; 1 is greedy). */
  topK?: number;
  /** Seed of the draws (default 0); ignored when greedy. */
  seed?: number;
}

/** Checks the options and says whether they mean greedy decoding. */
export function checkSampling(o: SamplingOptions): { temperature: number; topK: number; seed: number; greedy: boolean } {
  const temperature = o.temperature ?? 0;
  const topK = o.topK ?? 0;
  const seed = o.seed ?? 0;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0)
    throw new ArgumentRangeError(`temperature (--temperature) must be a finite number >= 0, got ${String(o.temperature)}`);
  if (!Number.isInteger(topK) || topK < 0) throw new ArgumentRangeError(`topK (--top-k) must be an integer >= 0 (0: every token), got ${String(o.topK)}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentRangeError(`seed (--seed) must be an integer in [0, 2^32), got ${String(o.seed)}`);
  return { temperature, topK, seed, greedy: temperature === 0 || topK === 1 };
}

/** Draws the next token from each row of logits [rows, vocab], one random number per row. */
export class TokenSampler {
  private readonly rng: SeededRandom;
  private readonly o: ReturnType<typeof checkSampling>;

  constructor(options: SamplingOptions = {}) {
    this.o = checkSampling(options);
    this.rng = new SeededRandom(this.o.seed);
  }

  get greedy(): boolean {
    return this.o.greedy;
  }

  async next(logits: Float32Array, vocab: number): Promise<Int32Array> {
    checkTypedArray(logits, 'Float32Array', -1, 'logits');
    if (!Number.isInteger(vocab) || vocab < 1 || logits.length === 0 || logits.length % vocab !== 0)
      throw new ShapeError(`logits has ${logits.length} elements, not a positive multiple of vocab ${vocab}`);
    const rows = logits.length / vocab;
    const u = new Float64Array(rows);
    if (!this.o.greedy) for (let r = 0; r < rows; r++) u[r] = this.rng.next();
    const out = new Int32Array(rows);
    await nativeCall(() => evalNative().sampleTokens(logits, rows, vocab, { temperature: this.o.temperature, topK: this.o.topK }, u, out));
    return out;
  }
}
