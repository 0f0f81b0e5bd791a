// Opens a model in any supported format: a directory with config.json (Hugging Face),
// a GGUF file (by magic or .gguf extension), otherwise a llama2.c checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../errors';
import { LoadedModel, ModelFormat } from '../model/types';
import { readGGUF } from './gguf-reader';
import { readHF } from './hf';
import { readLlama2c } from './llama2c';

export interface LoadOptions {
  /** llama2.c tokenizer file (tokenizer.bin / tok*.bin) for a llama2.c checkpoint. */
  tokenizer?: string;
}

/** Which reader `p` needs; errors name the path. */
export function detectFormat(p: string): ModelFormat {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw new FormatError(p, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (st.isDirectory()) {
    if (!fs.existsSync(path.join(p, 'config.json'))) throw new FormatError(p, 'directory has no config.json (not a Hugging Face model directory)');
    return 'hf';
  }
  if (!st.isFile()) throw new FormatError(p, 'not a regular file or directory');
  const base = path.basename(p).toLowerCase();
  if (base.endsWith('.safetensors') || base === 'config.json' || base.endsWith('.safetensors.index.json'))
    throw new FormatError(p, 'this is part of a Hugging Face model: pass its directory (the one with config.json)');
  const head = Buffer.alloc(4);
  const fd = fs.openSync(p, 'r');
  let n = 0;
  try {
    n = fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n === 4 && head.toString('latin1') === 'GGUF') return 'gguf';
  if (p.toLowerCase().endsWith('.gguf')) throw new FormatError(p, n === 0 ? 'empty file' : 'not a GGUF file (bad magic)');
  if (n === 0) throw new FormatError(p, 'empty file');
  return 'llama2c';
}

export async function loadModel(p: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const format = detectFormat(p);
  if (opts.tokenizer && format !== 'llama2c')
    throw new FormatError(opts.tokenizer, `--tokenizer is for llama2.c checkpoints; ${p} is a ${format === 'hf' ? 'Hugging Face' : 'GGUF'} model with its own tokenizer`);
  if (format === 'hf') return readHF(p);
  if (format === 'gguf') return readGGUF(p);
  return readLlama2c(p, opts);
}
