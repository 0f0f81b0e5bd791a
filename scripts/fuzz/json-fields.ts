// Structure-aware mutations of the JSON files beside a model: config.json's sizes and
// counts, tokenizer.json's ids and components, tokenizer_config.json's special tokens and
// chat template. Each parses the file, changes one named field and re-serialises it.
import { interestingJsonNumber, wrongTypeJson } from './interesting';
import type { Mutated } from './mutate-bytes';
import { jsonPaths, mutateJsonValue, setPath, short, showPath, stringifyJson, verbatim, type JsonPath } from './mutate-json';
import type { Rng } from './rng';

type Doc = Record<string, unknown>;

const CONFIG_KEYS = [
  'num_hidden_layers', 'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'head_dim',
  'max_position_embeddings', 'rope_theta', 'rms_norm_eps', 'tie_word_embeddings', 'model_type', 'architectures', 'torch_dtype',
  'rope_scaling', 'bos_token_id', 'eos_token_id', 'hidden_act', 'attention_bias',
];

const FAMILIES = ['llama', 'mistral', 'qwen2', 'opt', 'gpt2', 'gemma', 'phi3', 'mixtral', 'Llama', ''];

function mutateConfig(doc: Doc, r: Rng): string {
  const key = r.pick(CONFIG_KEYS);
  if ((key === 'model_type' || key === 'architectures') && r.chance(0.6)) {
    const family = r.pick(FAMILIES);
    doc[key] = key === 'model_type' ? family : [`${family.charAt(0).toUpperCase()}${family.slice(1)}ForCausalLM`];
    return `${key} := ${short(doc[key])}`;
  }
  if (key === 'rope_scaling' && r.chance(0.6)) {
    const v = { rope_type: 'llama3', factor: interestingJsonNumber(r), low_freq_factor: r.pick([1, 0, -1]), high_freq_factor: r.pick([4, 0, 1]), original_max_position_embeddings: interestingJsonNumber(r) };
    doc[key] = v;
    return `${key} := ${short(v)}`;
  }
  const v = r.chance(0.7) ? interestingJsonNumber(r, typeof doc[key] === 'number' ? (doc[key] as number) : undefined) : wrongTypeJson(r);
  doc[key] = v;
  return `${key} := ${short(v)}`;
}

/** Paths matching a pattern such as ['added_tokens', '*', 'id']. */
function matching(paths: JsonPath[], pattern: string[]): JsonPath[] {
  return paths.filter((p) => p.length === pattern.length && pattern.every((k, i) => k === '*' || k === String(p[i])));
}

function mutateTokenizerJson(doc: Doc, r: Rng): string {
  const paths = jsonPaths(doc);
  const choice = r.int(0, 6);
  if (choice <= 1) {
    const ids = matching(paths, ['added_tokens', '*', 'id']);
    const vocab = matching(paths, ['model', 'vocab', '*']);
    const pool = choice === 0 && ids.length > 0 ? ids : vocab.length > 0 ? vocab : ids;
    if (pool.length > 0) {
      const p = r.pick(pool);
      const v = r.chance(0.8) ? r.pick([2 ** 31, 2 ** 31 - 1, 2 ** 32, 1e9, 65536, -1, 1.5, 2 ** 53]) : wrongTypeJson(r);
      setPath(doc, p, v);
      return `${showPath(p)} := ${short(v)}`;
    }
  }
  if (choice === 2) {
    const v = r.pick<unknown>([null, 'x', [], { type: 'TemplateProcessing', single: null, pair: null, special_tokens: {} }, { type: 'Nope' }]);
    const where = r.pick(['post_processor', 'post_processor.single', 'normalizer', 'pre_tokenizer', 'decoder']).split('.');
    if (where.length === 1 || (doc[where[0]] && typeof doc[where[0]] === 'object')) {
      setPath(doc, where, v);
      return `$.${where.join('.')} := ${short(v)}`;
    }
  }
  if (choice === 5) {
    // A normalizer Sequence nested deep: the library builds it recursively.
    const depth = r.pick([100, 5000, 50000]);
    doc.normalizer = verbatim('{"type":"Sequence","normalizers":['.repeat(depth) + '{"type":"Prepend","prepend":"\u2581"}' + ']}'.repeat(depth));
    return `$.normalizer := Sequence nested ${depth} deep`;
  }
  if (choice === 3 && doc.model && typeof doc.model === 'object') {
    const v = r.pick<unknown>(['Unigram', 'WordPiece', 'WordLevel', 'Nope', null, 3]);
    (doc.model as Doc).type = v;
    return `$.model.type := ${short(v)}`;
  }
  if (choice === 4) {
    const merges = matching(paths, ['model', 'merges', '*']);
    if (merges.length > 0) {
      const p = r.pick(merges);
      const v = r.pick<unknown>(['a', 'a b c', ['a'], 7, null, '']);
      setPath(doc, p, v);
      return `${showPath(p)} := ${short(v)}`;
    }
  }
  return mutateJsonValue(doc, r, paths);
}

const HUGE_TEMPLATES = [
  '{% for i in range(1000000000) %}x{% endfor %}',
  '{% for m in messages %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endfor %}',
  "{{ 'x' * 1000000000 }}",
  "{% set s = 'ab' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s }}",
  '{% for m in messages %}{{ m.content',
  '{{ raise_exception("no") }}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
];

function mutateTokenizerConfig(doc: Doc, r: Rng): string {
  switch (r.int(0, 3)) {
    case 0: {
      const v = r.pick(HUGE_TEMPLATES);
      doc.chat_template = v;
      return `chat_template := ${JSON.stringify(v)}`;
    }
    case 1: {
      const key = r.pick(['bos_token', 'eos_token', 'unk_token', 'pad_token']);
      const v = r.pick<unknown>(['<nope>', '', null, 7, { content: 7 }, { content: '</s>' }, ['<s>']]);
      doc[key] = v;
      return `${key} := ${short(v)}`;
    }
    case 2: {
      const key = r.pick(['add_bos_token', 'add_eos_token', 'model_max_length', 'chat_template']);
      const v = wrongTypeJson(r);
      doc[key] = v;
      return `${key} := ${short(v)}`;
    }
    default:
      return mutateJsonValue(doc, r);
  }
}

function mutateIndex(doc: Doc, r: Rng): string {
  const map = doc.weight_map;
  if (map && typeof map === 'object' && r.chance(0.7)) {
    const keys = Object.keys(map);
    const k = r.pick(keys);
    const v = r.pick<unknown>(['../config.json', 'missing.safetensors', '', '/etc/passwd', 7, null, 'model.safetensors.index.json']);
    (map as Doc)[k] = v;
    return `weight_map.${k} := ${short(v)}`;
  }
  return mutateJsonValue(doc, r);
}

export type JsonKind = 'config' | 'tokenizer' | 'tokenizer-config' | 'index' | 'other';

const BY_KIND: Record<JsonKind, (doc: Doc, r: Rng) => string> = {
  config: mutateConfig,
  tokenizer: mutateTokenizerJson,
  'tokenizer-config': mutateTokenizerConfig,
  index: mutateIndex,
  other: (doc, r) => mutateJsonValue(doc, r),
};

/** A field-level mutation for the kind of JSON file; undefined when the file does not parse as an object. */
export function mutateJsonFile(b: Buffer, kind: JsonKind, r: Rng): Mutated | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const desc = r.chance(0.75) ? BY_KIND[kind](doc as Doc, r) : mutateJsonValue(doc, r);
  return { data: Buffer.from(stringifyJson(doc)), desc };
}

