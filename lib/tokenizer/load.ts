// TokenizerSource (from a model reader) -> Tokenizer.
import type { TokenizerSource } from '../model/types';
import { ShearsError } from '../errors';
import { llama2cVocab, readLlama2cTokenizer } from './llama2c-file';
import { ggufVocab } from './gguf-vocab';
import { SpmTokenizer } from './spm-tokenizer';
import { loadHFTokenizer } from './hf';
import type { Tokenizer } from './types';

export interface LoadTokenizerOptions {
  /**
   * The model's vocabulary size: a llama2.c tokenizer file must hold exactly this many
   * tokens; every id of a tokenizer.json must be below it.
   */
  vocabSize?: number;
}

export class NoTokenizerError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_NO_TOKENIZER');
  }
}

export async function loadTokenizer(source: TokenizerSource, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  switch (source.kind) {
    case 'llama2c':
      return new SpmTokenizer(llama2cVocab(readLlama2cTokenizer(source.path, opts.vocabSize), source.path));
    case 'gguf-llama':
      return new SpmTokenizer(ggufVocab(source));
    case 'hf':
      return loadHFTokenizer(source.tokenizerJsonPath, source.tokenizerConfigPath, opts.vocabSize);
    case 'none':
      throw new NoTokenizerError(`this model has no usable tokenizer: ${source.reason}`);
    default:
      throw new NoTokenizerError(`unknown tokenizer source kind ${JSON.stringify((source as { kind: unknown }).kind)}`);
  }
}
