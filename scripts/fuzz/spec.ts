// What one fuzz case is: the files of a case directory, which loader runs on them, and
// the outcome classes the runner reports.

export const TARGETS = ['gguf', 'safetensors', 'llama2c', 'tokenizer'] as const;
export type Target = (typeof TARGETS)[number];

/** What the runner loads from a case directory (paths relative to it). */
export type RunSpec =
  | { kind: 'model'; path: string; tokenizer?: string }
  | { kind: 'hf-tokenizer'; json: string; config?: string }
  | { kind: 'llama2c-tokenizer'; path: string; vocabSize?: number }
  /** The supervisor's own check: a case that misbehaves on purpose, to show each failure is caught. */
  | { kind: 'harness-check'; behave: HarnessBehaviour };

export type HarnessBehaviour = 'succeed' | 'throw-typed' | 'throw-untyped' | 'spin' | 'grow-heap' | 'grow-buffers' | 'abort';

/** Passing outcomes first, then the failures the fuzzer hunts. */
export const OUTCOME_CLASSES = ['success', 'typed', 'untyped', 'invalid', 'timeout', 'memory', 'crash'] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];
export const isFailure = (c: OutcomeClass): boolean => c !== 'success' && c !== 'typed';

export interface Outcome {
  class: OutcomeClass;
  /** Error class name (typed/untyped), or what stopped the run. */
  name?: string;
  code?: string;
  message?: string;
  /** Top stack frames of an untyped error: where it escaped from. */
  where?: string;
  ms: number;
}
