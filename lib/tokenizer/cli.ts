// `shears tokenize` semantics, independent of how the model (and its tokenizer) is loaded.
//   --text T    encode T
//   --data F    encode the whole content of F as one string, exactly like --text (the
//               file must be valid UTF-8: invalid bytes are an error, not replaced)
//   --bos       prepend BOS (default: the tokenizer's own convention, see defaultBos)
//   --json      print one JSON array of ids; otherwise the ids space-separated on one line
import * as fs from 'node:fs';
import { ShearsError } from '../errors';
import type { Tokenizer } from './types';

export interface RunTokenizeOptions {
  text?: string;
  dataFile?: string;
  bos?: boolean;
  eos?: boolean;
  json?: boolean;
}

/** Whether a tokenizer prepends BOS by default (llama2.c always; GGUF/HF per their add_bos_token). */
export function defaultBos(tokenizer: Tokenizer): boolean {
  return tokenizer.addBos ?? false;
}

export async function runTokenize(tokenizer: Tokenizer, opts: RunTokenizeOptions, out: NodeJS.WritableStream): Promise<number[]> {
  if ((opts.text === undefined) === (opts.dataFile === undefined)) {
    throw new ShearsError('tokenize: give exactly one of --text or --data', 'E_ARGUMENT');
  }
  let text: string;
  if (opts.dataFile !== undefined) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await fs.promises.readFile(opts.dataFile));
    } catch (e) {
      throw new ShearsError(`tokenize: cannot read --data ${opts.dataFile} as UTF-8 text (${(e as Error).message})`, 'E_ARGUMENT');
    }
  } else {
    text = opts.text as string;
  }
  const ids = tokenizer.encode(text, { bos: opts.bos ?? defaultBos(tokenizer), eos: opts.eos ?? false });
  const line = opts.json ? JSON.stringify(ids) : ids.join(' ');
  await new Promise<void>((resolve, reject) => {
    out.write(line + '\n', (err) => (err ? reject(err) : resolve()));
  });
  return ids;
}
