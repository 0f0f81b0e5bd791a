// The seed inputs of each target: tiny generated models (milliseconds per case), the
// embedded demo model's JSON files, and the real files of ../shared/data when present.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  buildGGUF, buildLlama2cLegacy, bufOf, ggufLlamaNames, llamaConfig, llamaKVs, llamaTensors, randomData,
  writeSafetensors, type GgufKV, type StDType, type TinyLlamaSpec, TINY,
} from '../../test/formats/fixtures';
import { tokBin } from '../../test/support/tokenizer-fixtures';
import { packageRoot } from '../../lib/native/binding';
import type { RunSpec, Target } from './spec';

/** How a file may be mutated: by its format's structure, or only as bytes. */
export type FileKind = 'gguf' | 'safetensors' | 'llama2c' | 'llama2c-tokenizer' | 'config' | 'tokenizer' | 'tokenizer-config' | 'index';

export interface SeedFile {
  kind: FileKind;
  /** Contents; absent for a large file that is only linked (never mutated). */
  data?: Buffer;
  /** Absolute path of a large original that cases link to instead of copying. */
  link?: string;
}

export interface Seed {
  name: string;
  target: Target;
  files: Record<string, SeedFile>;
  spec: RunSpec;
  /** Relative chance of being picked among the target's seeds. */
  weight: number;
}

export const REPO_ROOT = packageRoot();
export const SHARED_DATA = path.resolve(REPO_ROOT, '..', 'shared', 'data');
const DEMO = path.join(REPO_ROOT, 'assets', 'demo-model');

const read = (p: string): Buffer => fs.readFileSync(p);

/** The demo tokenizer cut down to its ids below `keep` (and the merges among them): same structure, a tenth of the size. */
export function smallDemoTokenizer(keep = 320): Buffer {
  const doc = JSON.parse(fs.readFileSync(path.join(DEMO, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: [string, string][] } };
  const vocab = Object.fromEntries(Object.entries(doc.model.vocab).filter(([, id]) => id < keep));
  doc.model.vocab = vocab;
  doc.model.merges = doc.model.merges.filter(([a, b]) => a in vocab && b in vocab && a + b in vocab);
  return Buffer.from(JSON.stringify(doc));
}

const CHAT_TEMPLATE = "{% for m in messages %}{{ bos_token }}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}";

/** The demo's tokenizer_config.json with a chat template: a string, or (newer configs) a list of named templates. */
function tokenizerConfig(chat: boolean | 'list'): Buffer {
  const doc = JSON.parse(fs.readFileSync(path.join(DEMO, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  if (chat === 'list') doc.chat_template = [{ name: 'default', template: CHAT_TEMPLATE }, { name: 'tool_use', template: '{{ messages }}' }];
  else if (chat) doc.chat_template = CHAT_TEMPLATE;
  return Buffer.from(JSON.stringify(doc));
}

function safetensorsBytes(spec: TinyLlamaSpec, dtype: StDType): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-seed-'));
  try {
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, llamaTensors(spec, dtype));
    return read(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const SMALL_VOCAB = 320;
const TINY_HF: TinyLlamaSpec = { ...TINY, vocab: SMALL_VOCAB };

function hfSeed(name: string, spec: TinyLlamaSpec, dtype: StDType, weight: number): Seed {
  return {
    name,
    target: 'safetensors',
    weight,
    spec: { kind: 'model', path: '.' },
    files: {
      'config.json': { kind: 'config', data: Buffer.from(JSON.stringify(llamaConfig(spec, { torch_dtype: dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16' }))) },
      'model.safetensors': { kind: 'safetensors', data: safetensorsBytes(spec, dtype) },
      'tokenizer.json': { kind: 'tokenizer', data: smallDemoTokenizer(SMALL_VOCAB) },
      'tokenizer_config.json': { kind: 'tokenizer-config', data: tokenizerConfig(true) },
    },
  };
}

/** Two shards and an index: the index's weight_map is a path the loader must confine. */
function shardedSeed(): Seed {
  const tensors = llamaTensors(TINY_HF, 'F32');
  const half = Math.ceil(tensors.length / 2);
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-fuzz-seed-'));
  const files: Record<string, SeedFile> = {
    'config.json': { kind: 'config', data: Buffer.from(JSON.stringify(llamaConfig(TINY_HF))) },
    'tokenizer.json': { kind: 'tokenizer', data: smallDemoTokenizer(SMALL_VOCAB) },
  };
  const map: Record<string, string> = {};
  try {
    names.forEach((n, s) => {
      const part = tensors.slice(s * half, (s + 1) * half);
      part.forEach((t) => (map[t.name] = n));
      writeSafetensors(path.join(dir, n), part);
      files[n] = { kind: 'safetensors', data: read(path.join(dir, n)) };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  files['model.safetensors.index.json'] = { kind: 'index', data: Buffer.from(JSON.stringify({ metadata: {}, weight_map: map })) };
  return { name: 'tiny-hf-sharded', target: 'safetensors', weight: 2, spec: { kind: 'model', path: '.' }, files };
}

/** `n` pieces in llama2.c layout: <unk>, BOS, EOS, the space, letters, then space-letter merges. */
function tinyPieces(n: number): string[] {
  const letters = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
  return ['<unk>', '\n<s>\n', '\n</s>\n', ' ', ...letters, ...letters.map((c) => ` ${c}`)].slice(0, n);
}

/** Q8_0 blocks (f16 scale, 32 int8) of seeded values, as ggml stores them. */
function q8_0(n: number, seed: number): Uint8Array {
  const r = randomData('F32', n, seed) as Float32Array;
  const out = Buffer.alloc((n / 32) * 34);
  for (let b = 0; b < n / 32; b++) {
    out.writeUInt16LE(0x2000, b * 34); // f16 2^-7: a plausible scale
    for (let i = 0; i < 32; i++) out.writeInt8(Math.round(r[b * 32 + i] * 127), b * 34 + 2 + i);
  }
  return out;
}

/** The spec of the Q8_0 seed: rows of 32 and 64 values, whole Q8_0 blocks. */
const TINY_Q8: TinyLlamaSpec = { hidden: 32, heads: 4, kvHeads: 2, inter: 64, layers: 1, vocab: TINY.vocab };

/** A tiny GGUF llama with a SentencePiece-style vocabulary; type 0 F32, 1 F16, 8 Q8_0 (matrices; norms stay F32). */
export function tinyGguf(type: 0 | 1 | 8 = 0): Buffer {
  const s = type === 8 ? TINY_Q8 : TINY;
  const tokens = tinyPieces(s.vocab).map((p, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i] : p.replace(/ /g, '\u2581')));
  const kvs: GgufKV[] = llamaKVs(s, [
    { key: 'general.name', type: 8, value: 'fuzz-seed' },
    { key: 'general.alignment', type: 4, value: 32 },
    { key: 'tokenizer.ggml.model', type: 8, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 9, itemType: 8, value: tokens },
    { key: 'tokenizer.ggml.scores', type: 9, itemType: 6, value: tokens.map((_, i) => -i) },
    { key: 'tokenizer.ggml.token_type', type: 9, itemType: 5, value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) },
    { key: 'tokenizer.ggml.bos_token_id', type: 4, value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 4, value: 2 },
    { key: 'tokenizer.ggml.unknown_token_id', type: 4, value: 0 },
  ]);
  let seed = 11;
  const tensors = ggufLlamaNames(s).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const ne = shape.slice().reverse();
    if (type === 8 && shape.length === 2) return { name, ne, type, data: q8_0(n, seed++) };
    const t = type === 8 ? 0 : type;
    return { name, ne, type: t, data: new Uint8Array(bufOf(randomData(t === 0 ? 'F32' : 'F16', n, seed++))) };
  });
  return buildGGUF(kvs, tensors);
}

/** A tiny llama2.c version 1 checkpoint: "ak42", version 1, the 7 ints, shared-classifier byte, padded to 256. */
export function tinyLlama2cV1(s: TinyLlamaSpec = TINY): Buffer {
  const head = Buffer.alloc(256);
  head.writeUInt32LE(0x616b3432, 0);
  head.writeInt32LE(1, 4);
  [s.hidden, s.inter, s.layers, s.heads, s.kvHeads, s.vocab, 16].forEach((v, i) => head.writeInt32LE(v, 8 + 4 * i));
  head[36] = 1;
  const kv = (s.kvHeads * s.hidden) / s.heads;
  const L = s.layers;
  const n = 2 * L * s.hidden + s.hidden + s.vocab * s.hidden + L * (2 * s.hidden * s.hidden + 2 * kv * s.hidden + 3 * s.inter * s.hidden);
  return Buffer.concat([head, bufOf(randomData('F32', n, 5))]);
}

/** A legacy checkpoint with its own classifier: negative vocab_size in the header, the classifier appended. */
function separateClassifier(shared: Buffer): Buffer {
  const out = Buffer.concat([shared, bufOf(randomData('F32', TINY.vocab * TINY.hidden, 9))]);
  out.writeInt32LE(-TINY.vocab, 20);
  return out;
}

function sharedSeeds(): Seed[] {
  if (!fs.existsSync(path.join(SHARED_DATA, 'PROVENANCE.md'))) return [];
  const m = (...p: string[]) => path.join(SHARED_DATA, 'models', ...p);
  const out: Seed[] = [];
  const add = (s: Seed, files: string[]) => {
    if (files.every((f) => fs.existsSync(f))) out.push(s);
  };
  const s260 = m('stories260K');
  const baby = m('babyllama-tok105');
  add({ name: 'stories260K.gguf', target: 'gguf', weight: 1, spec: { kind: 'model', path: 'model.gguf' }, files: { 'model.gguf': { kind: 'gguf', data: read(path.join(s260, 'stories260K.gguf')) } } }, [path.join(s260, 'stories260K.gguf')]);
  for (const [name, bin, tok] of [
    ['stories260K.bin', path.join(s260, 'stories260K.bin'), path.join(s260, 'tok512.bin')],
    ['stories260K_v1.bin', path.join(s260, 'stories260K_v1.bin'), path.join(s260, 'tok512.bin')],
  ] as const) {
    if (!fs.existsSync(bin) || !fs.existsSync(tok)) continue;
    out.push({ name, target: 'llama2c', weight: 1, spec: { kind: 'model', path: 'model.bin', tokenizer: 'tok.bin' }, files: { 'model.bin': { kind: 'llama2c', data: read(bin) }, 'tok.bin': { kind: 'llama2c-tokenizer', data: read(tok) } } });
  }
  const tok512 = path.join(s260, 'tok512.bin');
  if (fs.existsSync(tok512)) out.push({ name: 'tok512.bin', target: 'tokenizer', weight: 2, spec: { kind: 'llama2c-tokenizer', path: 'tok.bin', vocabSize: 512 }, files: { 'tok.bin': { kind: 'llama2c-tokenizer', data: read(tok512) } } });
  const tok105 = path.join(baby, 'tok105.bin');
  if (fs.existsSync(tok105)) out.push({ name: 'tok105.bin', target: 'tokenizer', weight: 2, spec: { kind: 'llama2c-tokenizer', path: 'tok.bin' }, files: { 'tok.bin': { kind: 'llama2c-tokenizer', data: read(tok105) } } });
  // The real BabyLlama checkpoint is 3.7 MB: linked, only its tokenizer is mutated.
  const model5000 = path.join(baby, 'model5000.bin');
  if (fs.existsSync(model5000) && fs.existsSync(tok105))
    out.push({ name: 'babyllama-tok105', target: 'llama2c', weight: 1, spec: { kind: 'model', path: 'model.bin', tokenizer: 'tok.bin' }, files: { 'model.bin': { kind: 'llama2c', link: model5000 }, 'tok.bin': { kind: 'llama2c-tokenizer', data: read(tok105) } } });
  return out;
}

function demoSeeds(): Seed[] {
  const json = read(path.join(DEMO, 'tokenizer.json'));
  return [
    {
      // The demo's 6.8 MB weights are linked: only its JSON files are mutated.
      name: 'demo-model',
      target: 'safetensors',
      weight: 1,
      spec: { kind: 'model', path: '.' },
      files: {
        'config.json': { kind: 'config', data: read(path.join(DEMO, 'config.json')) },
        'model.safetensors': { kind: 'safetensors', link: path.join(DEMO, 'model.safetensors') },
        'tokenizer.json': { kind: 'tokenizer', data: json },
        'tokenizer_config.json': { kind: 'tokenizer-config', data: read(path.join(DEMO, 'tokenizer_config.json')) },
      },
    },
    { name: 'demo-tokenizer', target: 'tokenizer', weight: 1, spec: { kind: 'hf-tokenizer', json: 'tokenizer.json', config: 'tokenizer_config.json' }, files: { 'tokenizer.json': { kind: 'tokenizer', data: json }, 'tokenizer_config.json': { kind: 'tokenizer-config', data: tokenizerConfig(true) } } },
  ];
}

function generatedSeeds(): Seed[] {
  const pieces = tinyPieces(TINY.vocab);
  const tok32 = tokBin(pieces, pieces.map((_, i) => (i < 4 ? 0 : -i)));
  const llama2c = (name: string, model: Buffer): Seed => ({ name, target: 'llama2c', weight: 3, spec: { kind: 'model', path: 'model.bin', tokenizer: 'tok.bin' }, files: { 'model.bin': { kind: 'llama2c', data: model }, 'tok.bin': { kind: 'llama2c-tokenizer', data: tok32 } } });
  return [
    { name: 'tiny-f32.gguf', target: 'gguf', weight: 4, spec: { kind: 'model', path: 'model.gguf' }, files: { 'model.gguf': { kind: 'gguf', data: tinyGguf(0) } } },
    { name: 'tiny-f16.gguf', target: 'gguf', weight: 2, spec: { kind: 'model', path: 'model.gguf' }, files: { 'model.gguf': { kind: 'gguf', data: tinyGguf(1) } } },
    { name: 'tiny-q8_0.gguf', target: 'gguf', weight: 2, spec: { kind: 'model', path: 'model.gguf' }, files: { 'model.gguf': { kind: 'gguf', data: tinyGguf(8) } } },
    hfSeed('tiny-hf-f32', TINY_HF, 'F32', 3),
    hfSeed('tiny-hf-f16', TINY_HF, 'F16', 1),
    hfSeed('tiny-hf-bf16-tied', { ...TINY_HF, tied: true }, 'BF16', 2),
    shardedSeed(),
    llama2c('tiny-legacy.bin', buildLlama2cLegacy(TINY, 16)),
    llama2c('tiny-v1.bin', tinyLlama2cV1()),
    llama2c('tiny-legacy-classifier.bin', separateClassifier(buildLlama2cLegacy(TINY, 16))),
    { name: 'small-demo-tokenizer', target: 'tokenizer', weight: 4, spec: { kind: 'hf-tokenizer', json: 'tokenizer.json', config: 'tokenizer_config.json' }, files: { 'tokenizer.json': { kind: 'tokenizer', data: smallDemoTokenizer() }, 'tokenizer_config.json': { kind: 'tokenizer-config', data: tokenizerConfig(true) } } },
    { name: 'small-demo-tokenizer-template-list', target: 'tokenizer', weight: 1, spec: { kind: 'hf-tokenizer', json: 'tokenizer.json', config: 'tokenizer_config.json' }, files: { 'tokenizer.json': { kind: 'tokenizer', data: smallDemoTokenizer() }, 'tokenizer_config.json': { kind: 'tokenizer-config', data: tokenizerConfig('list') } } },
    // No --tokenizer: the loader finds tokenizer.bin beside the checkpoint itself.
    { name: 'tiny-legacy-found-tokenizer', target: 'llama2c', weight: 1, spec: { kind: 'model', path: 'model.bin' }, files: { 'model.bin': { kind: 'llama2c', data: buildLlama2cLegacy(TINY, 16) }, 'tokenizer.bin': { kind: 'llama2c-tokenizer', data: tok32 } } },
    { name: 'tiny-tok32.bin', target: 'tokenizer', weight: 2, spec: { kind: 'llama2c-tokenizer', path: 'tok.bin', vocabSize: TINY.vocab }, files: { 'tok.bin': { kind: 'llama2c-tokenizer', data: tok32 } } },
  ];
}

/** Every seed, grouped by target. `shared: false` leaves out ../shared/data (as on a fresh clone). */
export function loadSeeds(opts: { shared?: boolean } = {}): Map<Target, Seed[]> {
  const all = [...generatedSeeds(), ...demoSeeds(), ...(opts.shared === false ? [] : sharedSeeds())];
  const by = new Map<Target, Seed[]>();
  for (const s of all) by.set(s.target, [...(by.get(s.target) ?? []), s]);
  return by;
}
