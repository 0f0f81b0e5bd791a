// The tokenizer interface every source (llama2.c .bin, GGUF vocabulary, HF tokenizer.json)
// is turned into by loadTokenizer().

export type TokenizerKind = 'llama2c' | 'gguf-llama' | 'hf';

export interface EncodeOptions {
  /** Prepend the BOS id (default false). */
  bos?: boolean;
  /** Append the EOS id (default false). */
  eos?: boolean;
}

export interface Tokenizer {
  kind: TokenizerKind;
  vocabSize: number;
  bosId?: number;
  eosId?: number;
  /** Whether the model's convention is to prepend BOS (llama2.c: always; GGUF/HF: add_bos_token). */
  addBos?: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Whole-sequence decode: BOS/EOS/control ids are skipped, byte tokens are assembled into UTF-8. */
  decode(ids: number[]): string;
  /**
   * Streaming decode of one id, llama2.c semantics: a leading space is dropped right after
   * BOS, byte tokens give their byte. A lone byte of a multi-byte character cannot be a JS
   * string: it becomes U+FFFD here; use decodeTokenBytes() to assemble characters yourself.
   */
  decodeToken(id: number, prevId?: number): string;
  /** The exact bytes decodeToken() stands for. */
  decodeTokenBytes(id: number, prevId?: number): Uint8Array;
  /** The vocabulary entry as the source stores it (GGUF and HF keep U+2581 for spaces). */
  piece(id: number): string;
}

/**
 * The part of @huggingface/tokenizers' Tokenizer that HFTokenizerAdapter uses, declared
 * here so that shears' declarations never import that package's types: its .d.ts files
 * use extensionless relative imports, which a consumer compiling with
 * `moduleResolution: nodenext` and `skipLibCheck: false` rejects (TS2834).
 */
export interface HFTokenizerLibrary {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
