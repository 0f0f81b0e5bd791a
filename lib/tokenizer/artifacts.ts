// What writers of other formats need to reproduce a model's tokenizer.
import type { GGUFEntry, TokenizerArtifacts, TokenizerSource } from '../model/types';
import { FormatError, NotImplementedError } from '../errors';
import { checkTokenizerIds } from './hf-ids';
import { llama2cVocab, readLlama2cTokenizer } from './llama2c-file';
import { ggufVocab } from './gguf-vocab';
import { spmToHFFiles } from './hf-json';
import { ggufSourceEntries, hfToGGUFEntries, spmToGGUFEntries } from './gguf-entries';
import { readJsonFile } from '../formats/json-bounds';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TokenizerArtifactsOptions {
  /** The model's vocabulary size (checked against a llama2.c tokenizer file, bounds a tokenizer.json's ids). */
  vocabSize?: number;
  /** model_max_length for a generated tokenizer_config.json. */
  contextLength?: number;
}

export async function tokenizerArtifacts(source: TokenizerSource, opts: TokenizerArtifactsOptions = {}): Promise<TokenizerArtifacts> {
  switch (source.kind) {
    case 'llama2c': {
      const v = llama2cVocab(readLlama2cTokenizer(source.path, opts.vocabSize), source.path);
      return { hfFiles: { ...spmToHFFiles(v, opts.contextLength) }, ggufEntries: spmToGGUFEntries(v) };
    }
    case 'gguf-llama': {
      const v = ggufVocab(source);
      return { hfFiles: { ...spmToHFFiles(v, opts.contextLength) }, ggufEntries: ggufSourceEntries(source) };
    }
    case 'hf': {
      const hfFiles: Record<string, string> = { 'tokenizer.json': readText(source.tokenizerJsonPath) };
      const json = readJsonFile(source.tokenizerJsonPath, 'tokenizer.json');
      checkTokenizerIds(source.tokenizerJsonPath, json, opts.vocabSize);
      let config: Record<string, unknown> = {};
      if (source.tokenizerConfigPath) {
        hfFiles['tokenizer_config.json'] = readText(source.tokenizerConfigPath);
        config = readJsonFile(source.tokenizerConfigPath, 'tokenizer_config.json');
      }
      const mapPath = path.join(path.dirname(source.tokenizerJsonPath), 'special_tokens_map.json');
      if (fs.existsSync(mapPath)) {
        // Copied as it is, but only when it is what it claims to be.
        readJsonFile(mapPath, 'special_tokens_map.json');
        hfFiles['special_tokens_map.json'] = readText(mapPath);
      }
      // Converted on access: an HF-to-HF writer must not fail on a tokenizer GGUF cannot hold.
      let entries: GGUFEntry[] | undefined;
      const artifacts = { hfFiles } as TokenizerArtifacts;
      Object.defineProperty(artifacts, 'ggufEntries', {
        enumerable: true,
        get: () => (entries ??= hfToGGUFEntries(json, config, source.tokenizerJsonPath)),
      });
      return artifacts;
    }
    case 'none':
      throw new NotImplementedError(`no tokenizer to write: ${source.reason}`);
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new FormatError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
