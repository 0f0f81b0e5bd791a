// The tokenizer a writer carries when the caller gives none: a model written without
// its tokenizer cannot tokenize a prompt, so writeHF / writeGGUF carry it by default
// (`tokenizer: false` opts out). HF -> HF copies the files as they are, GGUF -> GGUF
// keeps the entries, other pairs convert through lib/tokenizer/artifacts.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError } from '../errors';
import { LoadedModel, TokenizerArtifacts } from '../model/types';
import { tokenizerArtifacts } from '../tokenizer/artifacts';

/** Files of an HF model directory that carry its tokenizer (copied verbatim HF -> HF). */
export const HF_TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'generation_config.json',
];

/** What a writer does with the tokenizer when the caller says nothing. */
export type DefaultTokenizer =
  | { how: 'copy'; files: string[] }
  | { how: 'keep' }
  | { how: 'convert'; artifacts: TokenizerArtifacts }
  | { how: 'none'; reason: string };

/** Emitted (process.emitWarning) when a model without a tokenizer is written by default. */
export const NO_TOKENIZER_WARNING = 'SHEARS_NO_TOKENIZER';

export async function defaultTokenizer(model: LoadedModel, format: 'hf' | 'gguf'): Promise<DefaultTokenizer> {
  const src = model.tokenizer;
  if (src.kind === 'none') return { how: 'none', reason: src.reason };
  if (format === 'hf' && model.format === 'hf' && src.kind === 'hf')
    return { how: 'copy', files: HF_TOKENIZER_FILES.map((f) => path.join(model.path, f)).filter((f) => fs.existsSync(f)) };
  if (format === 'gguf' && model.format === 'gguf') return { how: 'keep' };
  try {
    const artifacts = await tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength });
    if (format === 'gguf') void artifacts.ggufEntries; // converted on access: known before writing
    return { how: 'convert', artifacts };
  } catch (e) {
    // A tokenizer the target cannot hold: the model is still written, with a warning
    // (as `shears convert` does); a malformed tokenizer file stays an error.
    if (e instanceof NotImplementedError) return { how: 'none', reason: e.message };
    throw e;
  }
}

/**
 * Says, once per write, that the model goes out without a tokenizer (none, or none the
 * target can hold): to `onWarning` when given, else as a process warning.
 */
export function warnNoTokenizer(model: LoadedModel, reason: string, onWarning?: (message: string) => void): void {
  const message = `${model.path}: written without a tokenizer (${reason}); generate and tokenize will need one`;
  if (onWarning) onWarning(message);
  else process.emitWarning(message, { code: NO_TOKENIZER_WARNING });
}
