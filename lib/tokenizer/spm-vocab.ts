// A SentencePiece-style (score-ordered BPE) vocabulary, as llama2.c and GGUF (model=llama)
// store it. Pieces are kept as byte strings (one char per byte) because llama2.c compares
// raw bytes; that keeps lookups exact even for pieces that are not valid UTF-8.

/** GGUF token types (llama.cpp llama_token_type). */
export const TOKEN_TYPE = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmVocab {
  kind: 'llama2c' | 'gguf-llama';
  /** Where the vocabulary came from, for error messages. */
  origin: string;
  /** Piece bytes as a byte string (latin1), spaces as ' ' (U+2581 already mapped). */
  bytes: string[];
  /** Piece as the source stores it, for Tokenizer.piece(). */
  display: string[];
  scores: Float32Array;
  /** Byte string -> id for the pieces encode may produce (first id wins on duplicates). */
  lookup: Map<string, number>;
  /** Fallback id for each byte 0..255, -1 when there is none (see fallback). */
  byteIds: Int32Array;
  /**
   * How a character missing from the vocabulary is encoded: 'byte+3' is llama2.c's literal
   * rule (id = byte + 3, whatever sits there); 'byte-tokens' uses the vocabulary's own
   * <0xXX> tokens and unk when one is missing (SentencePiece / llama.cpp).
   */
  fallback: 'byte+3' | 'byte-tokens';
  /** Byte each id decodes to when it is a byte token, else -1. */
  byteOf: Int16Array;
  /** GGUF token types when the source has them. */
  types?: number[];
  /** 1 for ids decode() skips (BOS, EOS, control, unknown-type tokens). */
  skipInDecode: Uint8Array;
  bos?: number;
  eos?: number;
  unk?: number;
  addBos: boolean;
  addEos: boolean;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** Byte value of a `<0xXX>` piece, else -1. */
export function bytePieceValue(piece: string): number {
  const m = BYTE_PIECE.exec(piece);
  return m ? parseInt(m[1], 16) : -1;
}

export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function utf8ToByteString(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

export function byteStringToUtf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** Map from byte string to the first id holding it, over the ids `keep` accepts. */
export function buildLookup(bytes: string[], keep: (id: number) => boolean): Map<string, number> {
  const lookup = new Map<string, number>();
  for (let id = 0; id < bytes.length; id++) {
    if (keep(id) && !lookup.has(bytes[id])) lookup.set(bytes[id], id);
  }
  return lookup;
}
