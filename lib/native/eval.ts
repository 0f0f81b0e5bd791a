// Hand-written interface of the evaluation part of the native addon
// (native/bindings/eval_bindings.cc): drawing next tokens for generation.
import { addon } from './binding';

export interface NativeSampleOptions {
  /** >= 0; 0 is greedy (the argmax, lowest index on ties). */
  temperature: number;
  /** Sample among the topK largest logits only (0: all; 1: greedy). */
  topK: number;
}

export interface EvalNative {
  /**
   * out[r] = the token drawn from row r of logits [rows, vocab] with the uniform number
   * u[r] in [0, 1) (unused when greedy), off the JavaScript thread.
   */
  sampleTokens(logits: Float32Array, rows: number, vocab: number, options: NativeSampleOptions, u: Float64Array, out: Int32Array): Promise<void>;
}

export function evalNative(): EvalNative {
  return addon().module as unknown as EvalNative;
}
