// A SentencePiece vocabulary (llama2.c .bin or GGUF) as HF files in the style of HF Llama
// tokenizers: BPE model with byte_fallback, Prepend("▁") + Replace(" ", "▁") normalizer,
// ByteFallback/Fuse/Strip decoder. SentencePiece merges any adjacent pair whose
// concatenation is a piece, highest piece score first; HF BPE merges listed pairs, lowest
// rank first. Listing every split (left, right) of every piece, ordered by the piece's
// score (then id, then split position), makes the two agree. Known differences:
//  - pieces with equal scores: SentencePiece takes the leftmost pair, HF the lower rank;
//  - llama2.c's byte + 3 fallback on vocabularies without byte tokens (tok105) has no HF
//    equivalent: HF gives <unk> there;
//  - HF splits added special tokens ("<s>") out of the input text, llama2.c does not.
import { TOKEN_TYPE, type SpmVocab } from './spm-vocab';
import { spmPieces } from './spm-pieces';
import { NotImplementedError } from '../errors';

const MIN_SCORE = -1e10;

export interface HFFiles {
  'tokenizer.json': string;
  'tokenizer_config.json': string;
  'special_tokens_map.json': string;
}

/** Every (left, right) split of every mergeable piece, in SentencePiece merge priority. */
export function spmMerges(v: SpmVocab, pieces: string[], types: number[]): [string, string][] {
  const mergeable = new Map<string, number>();
  for (let id = 0; id < pieces.length; id++) {
    if (types[id] === TOKEN_TYPE.normal || types[id] === TOKEN_TYPE.userDefined) {
      if (!mergeable.has(pieces[id])) mergeable.set(pieces[id], id);
    }
  }
  const found: { l: string; r: string; score: number; id: number; k: number }[] = [];
  for (const [p, id] of mergeable) {
    if (!(v.scores[id] > MIN_SCORE)) continue;
    const cps = Array.from(p);
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join('');
      const r = cps.slice(k).join('');
      if (mergeable.has(l) && mergeable.has(r)) found.push({ l, r, score: v.scores[id], id, k });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.k - b.k);
  return found.map((m) => [m.l, m.r]);
}

export function spmToHFFiles(v: SpmVocab, modelMaxLength?: number): HFFiles {
  const { pieces, types } = spmPieces(v);
  const vocab: Record<string, number> = {};
  for (let id = 0; id < pieces.length; id++) {
    if (Object.prototype.hasOwnProperty.call(vocab, pieces[id])) {
      throw new NotImplementedError(`${v.origin}: tokens ${vocab[pieces[id]]} and ${id} are both ${JSON.stringify(pieces[id])}; tokenizer.json needs unique pieces`);
    }
    vocab[pieces[id]] = id;
  }
  const unk = v.unk !== undefined ? pieces[v.unk] : null;
  const bos = v.bos !== undefined ? pieces[v.bos] : null;
  const eos = v.eos !== undefined ? pieces[v.eos] : null;
  const added = [];
  for (let id = 0; id < pieces.length; id++) {
    if (types[id] === TOKEN_TYPE.control || types[id] === TOKEN_TYPE.unknown) {
      added.push({ id, content: pieces[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
  }
  const template = (withPair: boolean): unknown[] => {
    const seq: unknown[] = [];
    const add = (s: string): void => {
      if (v.addBos && bos) seq.push({ SpecialToken: { id: bos, type_id: 0 } });
      seq.push({ Sequence: { id: s, type_id: 0 } });
      if (v.addEos && eos) seq.push({ SpecialToken: { id: eos, type_id: 0 } });
    };
    add('A');
    if (withPair) add('B');
    return seq;
  };
  const specialTokens: Record<string, unknown> = {};
  for (const [on, tok] of [[v.addBos, bos], [v.addEos, eos]] as const) {
    if (on && tok) specialTokens[tok] = { id: tok, ids: [vocab[tok]], tokens: [tok] };
  }
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: template(false), pair: template(true), special_tokens: specialTokens },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: spmMerges(v, pieces, types),
    },
  };
  const decoderEntries: Record<string, unknown> = {};
  for (const { id, ...rest } of added) decoderEntries[String(id)] = rest;
  const config: Record<string, unknown> = {
    add_bos_token: v.addBos,
    add_eos_token: v.addEos,
    added_tokens_decoder: decoderEntries,
    bos_token: bos,
    eos_token: eos,
    unk_token: unk,
    pad_token: null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizer',
  };
  if (modelMaxLength !== undefined) config.model_max_length = modelMaxLength;
  const specialMap: Record<string, string> = {};
  if (bos) specialMap.bos_token = bos;
  if (eos) specialMap.eos_token = eos;
  if (unk) specialMap.unk_token = unk;
  return {
    'tokenizer.json': JSON.stringify(tokenizerJson, null, 2) + '\n',
    'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(specialMap, null, 2) + '\n',
  };
}
