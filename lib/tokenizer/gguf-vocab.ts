// SentencePiece vocabulary from GGUF metadata (tokenizer.ggml.model = llama), encoded the
// way SentencePiece / llama.cpp do: U+2581 stands for a space, byte tokens (type 6 or
// <0xXX>) are reached only through byte fallback, control/unknown/unused tokens are never
// produced by encode, and a byte with no byte token becomes unk.
import type { TokenizerSource } from '../model/types';
import { TokenizerFileError } from './llama2c-file';
import { SpmVocab, TOKEN_TYPE, buildLookup, bytePieceValue, utf8ToByteString } from './spm-vocab';

export type GGUFLlamaSource = Extract<TokenizerSource, { kind: 'gguf-llama' }>;

const SPACE_MARK = /\u2581/g;

export function ggufVocab(src: GGUFLlamaSource, origin = 'GGUF tokenizer metadata'): SpmVocab {
  const n = src.tokens.length;
  const fail = (what: string): never => {
    throw new TokenizerFileError(`${origin}: ${what}`);
  };
  if (n === 0) fail('tokenizer.ggml.tokens is empty');
  if (src.scores.length !== n) fail(`tokenizer.ggml.scores has ${src.scores.length} entries for ${n} tokens`);
  if (src.tokenTypes && src.tokenTypes.length !== n) fail(`tokenizer.ggml.token_type has ${src.tokenTypes.length} entries for ${n} tokens`);
  for (const [name, id] of [['bos', src.bos], ['eos', src.eos], ['unk', src.unk]] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= n)) fail(`${name} token id ${id} is outside the ${n}-token vocabulary`);
  }
  const types = src.tokenTypes ?? src.tokens.map((_, id) => defaultType(src, id));
  const byteOf = new Int16Array(n).fill(-1);
  const byteIds = new Int32Array(256).fill(-1);
  const bytes: string[] = new Array(n);
  const skipInDecode = new Uint8Array(n);
  for (let id = 0; id < n; id++) {
    const t = types[id];
    const b = bytePieceValue(src.tokens[id]);
    if (t === TOKEN_TYPE.byte || (b >= 0 && t !== TOKEN_TYPE.control)) {
      if (b < 0) fail(`token ${id} has type byte but its text ${JSON.stringify(src.tokens[id])} is not <0xXX>`);
      byteOf[id] = b;
      if (byteIds[b] < 0) byteIds[b] = id;
    }
    if (t === TOKEN_TYPE.control || t === TOKEN_TYPE.unknown || t === TOKEN_TYPE.unused) skipInDecode[id] = 1;
    bytes[id] = utf8ToByteString(src.tokens[id].replace(SPACE_MARK, ' '));
  }
  if (src.bos !== undefined) skipInDecode[src.bos] = 1;
  if (src.eos !== undefined) skipInDecode[src.eos] = 1;
  if (src.unk !== undefined) {
    for (let b = 0; b < 256; b++) if (byteIds[b] < 0) byteIds[b] = src.unk;
  }
  const encodable = (id: number): boolean =>
    byteOf[id] < 0 && (types[id] === TOKEN_TYPE.normal || types[id] === TOKEN_TYPE.userDefined || types[id] === TOKEN_TYPE.undefined);
  return {
    kind: 'gguf-llama',
    origin,
    bytes,
    display: src.tokens.slice(),
    scores: Float32Array.from(src.scores),
    lookup: buildLookup(bytes, encodable),
    byteIds,
    fallback: 'byte-tokens',
    byteOf,
    skipInDecode,
    types: types.slice(),
    bos: src.bos,
    eos: src.eos,
    unk: src.unk,
    addBos: src.addBos ?? true,
    addEos: src.addEos ?? false,
  };
}

/** Without token_type: the ids named bos/eos are control, unk is unknown, <0xXX> are bytes. */
function defaultType(src: GGUFLlamaSource, id: number): number {
  if (id === src.bos || id === src.eos) return TOKEN_TYPE.control;
  if (id === src.unk) return TOKEN_TYPE.unknown;
  if (bytePieceValue(src.tokens[id]) >= 0) return TOKEN_TYPE.byte;
  return TOKEN_TYPE.normal;
}
