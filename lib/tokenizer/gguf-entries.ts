// tokenizer.ggml.* entries for a GGUF file (tokenizer.ggml.model = llama, llama.cpp's SPM
// tokenizer): tokens in the U+2581 spelling, float32 scores, int32 token types, uint32 ids.
import type { GGUFEntry } from '../model/types';
import { NotImplementedError } from '../errors';
import type { GGUFLlamaSource } from './gguf-vocab';
import { TOKEN_TYPE, bytePieceValue, type SpmVocab } from './spm-vocab';
import { spmPieces } from './spm-pieces';
import { TokenizerFileError } from './llama2c-file';
import { tokenContent } from './hf';

interface GGUFVocabParts {
  tokens: string[];
  scores: ArrayLike<number>;
  types: number[];
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
  addBos?: boolean;
  addEos?: boolean;
}

function entries(p: GGUFVocabParts): GGUFEntry[] {
  const out: GGUFEntry[] = [
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: p.tokens.slice() },
    { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: Array.from(p.scores) },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: p.types.slice() },
  ];
  const id = (key: string, v: number | undefined): void => {
    if (v !== undefined) out.push({ key: `tokenizer.ggml.${key}`, type: 'uint32', value: v });
  };
  id('bos_token_id', p.bos);
  id('eos_token_id', p.eos);
  id('unknown_token_id', p.unk);
  id('padding_token_id', p.pad);
  if (p.addBos !== undefined) out.push({ key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: p.addBos });
  if (p.addEos !== undefined) out.push({ key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: p.addEos });
  return out;
}

/** From a llama2.c vocabulary (or any SentencePiece vocabulary). */
export function spmToGGUFEntries(v: SpmVocab): GGUFEntry[] {
  const { pieces, types } = spmPieces(v);
  return entries({ tokens: pieces, scores: v.scores, types, bos: v.bos, eos: v.eos, unk: v.unk, addBos: v.addBos, addEos: v.addEos });
}

/** A GGUF source's own entries, passed through. */
export function ggufSourceEntries(src: GGUFLlamaSource): GGUFEntry[] {
  const types =
    src.tokenTypes ??
    src.tokens.map((t, id) =>
      id === src.unk ? TOKEN_TYPE.unknown : id === src.bos || id === src.eos ? TOKEN_TYPE.control : bytePieceValue(t) >= 0 ? TOKEN_TYPE.byte : TOKEN_TYPE.normal,
    );
  return entries({ ...src, scores: src.scores, types });
}

/**
 * From an HF tokenizer.json of the Llama/SentencePiece kind (BPE model, spaces as U+2581).
 * Scores are minus the rank of the first merge that builds a piece, so llama.cpp's
 * highest-score-first merging follows HF's lowest-rank-first order; pieces no merge builds
 * get scores below every merge. Exact when the merges list every split of every piece
 * (tokenizers converted from SentencePiece); otherwise llama.cpp may also merge pairs HF
 * never lists.
 */
export function hfToGGUFEntries(json: Record<string, unknown>, config: Record<string, unknown>, origin: string): GGUFEntry[] {
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || model.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
    throw new NotImplementedError(`tokenizer ${origin}: only BPE tokenizer.json models convert to GGUF (found ${String(model?.type)})`);
  }
  if (!isLlamaStyle(json)) {
    throw new NotImplementedError(
      `tokenizer ${origin}: not a Llama/SentencePiece-style BPE (no U+2581 space handling); byte-level BPE (GPT-2 style, tokenizer.ggml.model = gpt2) to GGUF is not implemented`,
    );
  }
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(model.vocab as Record<string, number>)) byId.set(id, tok);
  const added = (json.added_tokens as { id: number; content: string; special?: boolean }[] | undefined) ?? [];
  const special = new Set<number>();
  const userDefined = new Set<number>();
  for (const a of added) {
    byId.set(a.id, a.content);
    (a.special ? special : userDefined).add(a.id);
  }
  // Ids 0..n-1, each present: checked on the map itself, so a hostile id (2^31, -1, 1.5)
  // never sizes an array (and no spread of a 100k-entry list overflows the stack).
  const n = byId.size;
  const tokens: string[] = new Array(n);
  for (let id = 0; id < n; id++) {
    const t = byId.get(id);
    if (t === undefined) throw new NotImplementedError(`tokenizer ${origin}: no token has id ${id}; GGUF needs contiguous ids`);
    tokens[id] = t;
  }
  const idOf = new Map<string, number>();
  tokens.forEach((t, id) => idOf.set(t, id));
  const merges = (model.merges as (string | string[])[]).map((m) => (Array.isArray(m) ? m : m.split(' ', 2)));
  const scores = new Array<number>(n).fill(Number.NaN);
  merges.forEach(([l, r], rank) => {
    const id = idOf.get(l + r);
    if (id !== undefined && Number.isNaN(scores[id])) scores[id] = -rank;
  });
  let floor = -merges.length;
  const unkName = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const unk = unkName !== undefined ? idOf.get(unkName) : undefined;
  const types = tokens.map((t, id) => {
    if (id === unk) return TOKEN_TYPE.unknown;
    if (special.has(id)) return TOKEN_TYPE.control;
    if (bytePieceValue(t) >= 0) return TOKEN_TYPE.byte;
    if (userDefined.has(id)) return TOKEN_TYPE.userDefined;
    return TOKEN_TYPE.normal;
  });
  for (let id = 0; id < n; id++) {
    if (Number.isNaN(scores[id])) scores[id] = types[id] === TOKEN_TYPE.normal && Array.from(tokens[id]).length > 1 ? --floor : 0;
  }
  const cfgId = (key: string): number | undefined => {
    const c = tokenContent(config[key]);
    if (c === undefined) return undefined;
    const id = idOf.get(c);
    if (id === undefined) throw new TokenizerFileError(`tokenizer ${origin}: ${key} ${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  };
  return entries({
    tokens,
    scores,
    types,
    bos: cfgId('bos_token'),
    eos: cfgId('eos_token'),
    unk,
    pad: cfgId('pad_token'),
    addBos: typeof config.add_bos_token === 'boolean' ? config.add_bos_token : undefined,
    addEos: typeof config.add_eos_token === 'boolean' ? config.add_eos_token : undefined,
  });
}

function isLlamaStyle(json: Record<string, unknown>): boolean {
  const text = JSON.stringify([json.normalizer ?? null, json.pre_tokenizer ?? null]);
  return text.includes('"Metaspace"') || (text.includes('"Replace"') && text.includes('\u2581'));
}
