// One fuzz case from a seed: pick a file, stack one to three mutations on it (structure-
// aware for its format where possible, otherwise bytes), and describe what was done.
import { mutateGgufField, substituteGgufName } from './gguf-fields';
import { mutateJsonFile } from './json-fields';
import { mutateLlama2cHeader, mutateLlama2cTokenizer } from './llama2c-fields';
import { mutateBytes, type Mutated } from './mutate-bytes';
import type { Rng } from './rng';
import { mutateSafetensors } from './safetensors-fields';
import type { FileKind, Seed, SeedFile } from './seeds';

export interface FuzzCase {
  seed: Seed;
  /** The case's files: mutated ones replaced, linked ones kept as links. */
  files: Record<string, SeedFile>;
  mutations: string[];
}

const STRUCTURED: Record<FileKind, (b: Buffer, r: Rng) => Mutated | undefined> = {
  gguf: (b, r) => (r.chance(0.15) ? substituteGgufName(b, r) : mutateGgufField(b, r)),
  safetensors: mutateSafetensors,
  llama2c: mutateLlama2cHeader,
  'llama2c-tokenizer': mutateLlama2cTokenizer,
  config: (b, r) => mutateJsonFile(b, 'config', r),
  tokenizer: (b, r) => mutateJsonFile(b, 'tokenizer', r),
  'tokenizer-config': (b, r) => mutateJsonFile(b, 'tokenizer-config', r),
  index: (b, r) => mutateJsonFile(b, 'index', r),
};

/** Files most worth mutating get more weight: the model file over its side files. */
const FILE_WEIGHT: Record<FileKind, number> = { gguf: 4, safetensors: 3, llama2c: 3, 'llama2c-tokenizer': 2, config: 3, tokenizer: 3, 'tokenizer-config': 2, index: 1 };

function mutateOne(f: SeedFile, r: Rng): Mutated {
  const b = f.data!;
  let structured: Mutated | undefined;
  try {
    structured = r.chance(0.65) ? STRUCTURED[f.kind](b, r) : undefined;
  } catch {
    // A file an earlier mutation nested too deep for JSON.stringify: mutate its bytes instead.
    structured = undefined;
  }
  return structured ?? mutateBytes(b, r);
}

export function makeCase(seed: Seed, r: Rng): FuzzCase {
  const files = { ...seed.files };
  const names = Object.keys(files).filter((n) => files[n].data !== undefined);
  const mutations: string[] = [];
  const count = r.weighted([6, 3, 1]) + 1;
  for (let i = 0; i < count; i++) {
    const name = names[r.weighted(names.map((n) => FILE_WEIGHT[files[n].kind]))];
    const m = mutateOne(files[name], r);
    files[name] = { kind: files[name].kind, data: m.data };
    mutations.push(`${name}: ${m.desc}`);
  }
  return { seed, files, mutations };
}
