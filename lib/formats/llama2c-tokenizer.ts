// Finding the llama2.c tokenizer (tokenizer.bin / tok*.bin) that goes with a checkpoint.
// Format: int32 max_token_length, then per token: float32 score, int32 len, len bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../errors';
import { TokenizerSource } from '../model/types';

/** Real tokenizer files are about 0.5 MB (32k tokens) to a few MB (256k tokens). */
export const MAX_LLAMA2C_TOKENIZER_BYTES = 64 * 2 ** 20;

/** Number of tokens in a llama2.c tokenizer file, or an error message when it is malformed. */
export function countLlama2cTokens(file: string): number | string {
  let b: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_LLAMA2C_TOKENIZER_BYTES) return `${size} bytes, more than the ${MAX_LLAMA2C_TOKENIZER_BYTES} of any real tokenizer file`;
    b = fs.readFileSync(file);
  } catch (e) {
    return `cannot read: ${(e as Error).message}`;
  }
  if (b.length < 4) return 'too short for a llama2.c tokenizer';
  const maxLen = b.readInt32LE(0);
  if (maxLen < 1 || maxLen > 1 << 16) return `implausible max_token_length ${maxLen}`;
  let pos = 4;
  let n = 0;
  while (pos < b.length) {
    if (pos + 8 > b.length) return `truncated at token ${n}`;
    const len = b.readInt32LE(pos + 4);
    if (len < 0 || len > maxLen || pos + 8 + len > b.length) return `token ${n} has a bad length ${len}`;
    pos += 8 + len;
    n++;
  }
  return n;
}

export function llama2cTokenizer(checkpoint: string, vocab: number, explicit?: string): TokenizerSource {
  if (explicit) {
    const n = countLlama2cTokens(explicit);
    if (typeof n === 'string') throw new FormatError(explicit, `not a llama2.c tokenizer: ${n}`);
    if (n !== vocab) throw new FormatError(explicit, `tokenizer has ${n} tokens but the model ${checkpoint} has a vocabulary of ${vocab}`);
    return { kind: 'llama2c', path: explicit };
  }
  const dir = path.dirname(checkpoint);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    /* no listing: no tokenizer */
  }
  const candidates = names.filter((n) => n === 'tokenizer.bin' || /^tok.*\.bin$/.test(n)).sort();
  for (const name of candidates) {
    const full = path.join(dir, name);
    if (countLlama2cTokens(full) === vocab) return { kind: 'llama2c', path: full };
  }
  return {
    kind: 'none',
    reason: `no llama2.c tokenizer with ${vocab} tokens beside ${checkpoint} (looked for tokenizer.bin, tok*.bin${candidates.length ? `; found ${candidates.join(', ')} with other sizes` : ''}); pass --tokenizer FILE`,
  };
}
