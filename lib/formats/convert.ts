// Model conversion: load any format, write HF (a directory) or GGUF (a .gguf file).
// Tokenizers: HF -> HF copies the tokenizer files, GGUF -> GGUF keeps the entries; other
// combinations use an injected converter (lib/tokenizer/artifacts.ts) or warn.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../errors';
import { LoadedModel, TensorDType, TokenizerArtifacts, TokenizerSource } from '../model/types';
import { isDType } from '../tensor';
import { checkOutput } from './atomic';
import { loadModel } from './load';
import { HF_TOKENIZER_FILES } from './tokenizer-out';
import { writeGGUF } from './write-gguf';
import { writeHF } from './write-hf';

export interface ConvertOptions {
  model: string;
  out: string;
  dtype?: TensorDType;
  force?: boolean;
  /** llama2.c tokenizer file for a llama2.c source. */
  tokenizer?: string;
}

export interface ConvertDeps {
  /** Converts a tokenizer for the other format (lib/tokenizer/artifacts.ts). */
  tokenizerArtifacts?: (source: TokenizerSource) => Promise<TokenizerArtifacts>;
  /** Receives warnings (default: none; the CLI prints them). */
  warn?: (message: string) => void;
}

export type ConvertResult = WriteModelResult;

export { HF_TOKENIZER_FILES };

export function targetFormat(out: string): 'hf' | 'gguf' {
  return out.toLowerCase().endsWith('.gguf') ? 'gguf' : 'hf';
}

export interface WriteModelOptions extends ConvertDeps {
  dtype?: TensorDType;
  force?: boolean;
}

export interface WriteModelResult {
  out: string;
  format: 'hf' | 'gguf';
  tokenizer: 'copied' | 'kept' | 'converted' | 'not converted';
  warnings: string[];
}

/**
 * Writes a loaded (possibly pruned) model as HF (a directory) or GGUF (a .gguf `out`),
 * carrying its tokenizer over: HF -> HF copies the files, GGUF -> GGUF keeps the entries,
 * other combinations go through opts.tokenizerArtifacts or are written with a warning.
 */
export async function writeModelAs(model: LoadedModel, out: string, opts: WriteModelOptions = {}): Promise<WriteModelResult> {
  if (opts.dtype !== undefined && !isDType(opts.dtype))
    throw new ArgumentRangeError(`--dtype must be f32, f16 or bf16, got '${String(opts.dtype)}'`);
  const format = targetFormat(out);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.warn?.(m);
  };
  const src = model.tokenizer;
  let tokenizer: WriteModelResult['tokenizer'] = 'not converted';
  let artifacts: TokenizerArtifacts | undefined;
  let copyFiles: string[] | undefined;
  if (format === 'hf' && model.format === 'hf' && src.kind === 'hf') {
    copyFiles = HF_TOKENIZER_FILES.map((f) => path.join(model.path, f)).filter((f) => fs.existsSync(f));
    tokenizer = 'copied';
  } else if (format === 'gguf' && model.format === 'gguf' && src.kind !== 'none') {
    tokenizer = 'kept';
  } else if (src.kind === 'none') {
    warn(`tokenizer not converted: ${src.reason}`);
  } else if (opts.tokenizerArtifacts) {
    artifacts = await opts.tokenizerArtifacts(src);
    tokenizer = 'converted';
  } else {
    warn(`tokenizer not converted: converting a ${src.kind} tokenizer to ${format === 'hf' ? 'Hugging Face' : 'GGUF'} is not available here; the model was written without one`);
  }
  if (format === 'gguf' && artifacts) {
    const note = llamaCppVocabNote(artifacts);
    if (note) warn(note);
  }
  // `false` where this function decided (and warned) itself; undefined keeps GGUF entries.
  const chosen = artifacts ?? (tokenizer === 'kept' ? undefined : false);
  if (format === 'hf') await writeHF(model, out, { dtype: opts.dtype, force: opts.force, tokenizer: chosen, copyFiles });
  else await writeGGUF(model, out, { dtype: opts.dtype, force: opts.force, tokenizer: chosen });
  return { out, format, tokenizer, warnings };
}

/**
 * llama.cpp's SentencePiece tokenizer falls back to the byte tokens <0x00>..<0xFF> for
 * characters outside the vocabulary and throws (ending the process) where they are missing.
 * llama.cpp itself loads such a file and runs it on token ids, but node-llama-cpp 3.21.1
 * tokenizes '\n' while loading every model, so it aborts (measured on BabyLlama's 105-token
 * vocabulary). shears reads such files; the warning says what llama.cpp will do.
 */
function llamaCppVocabNote(a: TokenizerArtifacts): string | undefined {
  const model = a.ggufEntries.find((e) => e.key === 'tokenizer.ggml.model')?.value;
  const tokens = a.ggufEntries.find((e) => e.key === 'tokenizer.ggml.tokens')?.value;
  if (model !== 'llama' || !tokens || typeof (tokens as Iterable<string>)[Symbol.iterator] !== 'function') return undefined;
  for (const t of tokens as Iterable<string>) if (t === '<0x0A>' || t === '\n') return undefined;
  return "the vocabulary has no byte tokens (<0x00>..<0xFF>): shears reads this GGUF and llama.cpp loads it and runs it on token ids, but llama.cpp's tokenizer aborts the process on any character outside the vocabulary ('\\n' included), and node-llama-cpp 3.21.1 tokenizes '\\n' while loading a model";
}

/** `shears convert`: checks the output first, loads, writes, closes. */
export async function runConvert(opts: ConvertOptions, deps: ConvertDeps = {}): Promise<ConvertResult> {
  if (opts.dtype !== undefined && !isDType(opts.dtype))
    throw new ArgumentRangeError(`--dtype must be f32, f16 or bf16, got '${String(opts.dtype)}'`);
  checkOutput(opts.out, targetFormat(opts.out) === 'hf' ? 'dir' : 'file', { force: opts.force, inputPath: opts.model });
  const model = await loadModel(opts.model, { tokenizer: opts.tokenizer });
  try {
    return await writeModelAs(model, opts.out, { ...deps, dtype: opts.dtype, force: opts.force });
  } finally {
    model.close();
  }
}
