// HF tokenizer.json through @huggingface/tokenizers (pure JS, offline). BOS/EOS come
// from tokenizer_config.json (bos_token / eos_token, add_bos_token / add_eos_token).
// The files are checked first (hf-ids.ts) and every call into the library is wrapped:
// whatever it throws becomes a FormatError naming tokenizer.json.
import type * as HFT from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };
import { ArgumentRangeError, FormatError, ShearsError } from '../errors';
import { readJsonFile } from '../formats/json-bounds';
import { useFastBpe } from './hf-fast-bpe';
import { checkTokenizerIds } from './hf-ids';
import { TokenizerFileError } from './llama2c-file';
import type { EncodeOptions, HFTokenizerLibrary, Tokenizer } from './types';

// The package is ESM-typed but ships a CommonJS build for require(): load that one.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer: HFTokenizer } = require('@huggingface/tokenizers') as typeof HFT;

/** bos_token may be a string or an AddedToken-like object {content}. */
export function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class HFTokenizerAdapter implements Tokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  /** Whether the model's config asks for BOS by default (add_bos_token). */
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** The library's tokenizer, typed by the methods used here (see HFTokenizerLibrary). */
  readonly hf: HFTokenizerLibrary;
  /** Whether BPE merges run in shears' merger (hf-fast-bpe.ts) instead of the library's loop. */
  readonly fastBpe: boolean = false;

  /**
   * `origin`: the tokenizer.json the JSON came from (named in errors). `opts.vocabSize`:
   * the model's vocabulary size, when known; every id of the file must be below it.
   * `opts.configFile`: where tokenizerConfig came from (named when loading fails).
   * `opts.fastBpe`: false keeps the library's own BPE merge loop (for comparisons).
   */
  constructor(
    readonly tokenizerJson: Record<string, unknown>,
    readonly tokenizerConfig: Record<string, unknown>,
    readonly origin: string,
    opts: { vocabSize?: number; configFile?: string; fastBpe?: boolean } = {},
  ) {
    checkTokenizerIds(origin, tokenizerJson, opts.vocabSize);
    const withConfig = opts.configFile ? ` together with ${opts.configFile}` : '';
    this.hf = this.library(`load this tokenizer${withConfig}`, () => new HFTokenizer(tokenizerJson, tokenizerConfig));
    if (opts.fastBpe !== false) this.fastBpe = this.library(`prepare the merges of this tokenizer`, () => useFastBpe(this.hf));
    let max = -1;
    for (const id of this.library('list the vocabulary of this tokenizer', () => this.hf.get_vocab(true)).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    const idOf = (key: string): number | undefined => {
      const content = tokenContent(tokenizerConfig[key]);
      if (content === undefined) return undefined;
      const id = this.library(`look up ${key} in this tokenizer`, () => this.hf.token_to_id(content));
      if (id === undefined) throw new TokenizerFileError(`tokenizer ${origin}: ${key} ${JSON.stringify(content)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf('bos_token');
    this.eosId = idOf('eos_token');
    // Without add_bos_token / add_eos_token, what the tokenizer's post-processor does.
    const withSpecial = this.library('encode with this tokenizer', () => this.hf.encode('a', { add_special_tokens: true }).ids);
    this.addBos = typeof tokenizerConfig.add_bos_token === 'boolean' ? tokenizerConfig.add_bos_token : this.bosId !== undefined && withSpecial[0] === this.bosId;
    this.addEos =
      typeof tokenizerConfig.add_eos_token === 'boolean' ? tokenizerConfig.add_eos_token : this.eosId !== undefined && withSpecial[withSpecial.length - 1] === this.eosId;
  }

  /** Runs a call into @huggingface/tokenizers; what it throws becomes a FormatError naming the file. */
  private library<T>(what: string, run: () => T): T {
    try {
      return run();
    } catch (e) {
      if (e instanceof ShearsError || e instanceof ArgumentRangeError) throw e;
      throw new FormatError(this.origin, `@huggingface/tokenizers cannot ${what} (${(e as Error).message})`, { cause: e });
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.library('encode with this tokenizer', () => this.hf.encode(text, { add_special_tokens: false }).ids);
    if (opts.bos) {
      if (this.bosId === undefined) throw new TokenizerFileError(`tokenizer ${this.origin}: BOS requested but tokenizer_config.json names no bos_token`);
      ids.unshift(this.bosId);
    }
    if (opts.eos) {
      if (this.eosId === undefined) throw new TokenizerFileError(`tokenizer ${this.origin}: EOS requested but tokenizer_config.json names no eos_token`);
      ids.push(this.eosId);
    }
    return ids;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new ArgumentRangeError(`token id ${id} is outside the ${this.vocabSize}-token vocabulary of ${this.origin}`);
    }
  }

  decode(ids: number[]): string {
    ids.forEach((id) => this.check(id));
    return ids.length === 0 ? '' : this.library('decode with this tokenizer', () => this.hf.decode(ids, { skip_special_tokens: true }));
  }

  /**
   * The text this id adds after prevId: the difference of two decodes (special tokens
   * skipped, so after BOS the leading space is dropped as in llama2.c).
   */
  decodeToken(id: number, prevId?: number): string {
    this.check(id);
    const dec = (ids: number[]) => this.library('decode with this tokenizer', () => this.hf.decode(ids, { skip_special_tokens: true }));
    if (prevId === undefined) return dec([id]);
    this.check(prevId);
    const before = dec([prevId]);
    const both = dec([prevId, id]);
    return both.startsWith(before) ? both.slice(before.length) : dec([id]);
  }

  decodeTokenBytes(id: number, prevId?: number): Uint8Array {
    return new Uint8Array(Buffer.from(this.decodeToken(id, prevId), 'utf8'));
  }

  piece(id: number): string {
    this.check(id);
    return this.library('look up a token of this tokenizer', () => this.hf.id_to_token(id)) ?? '';
  }
}

/** `vocabSize`: the model's vocabulary size, when known (bounds the file's ids). */
export function loadHFTokenizer(tokenizerJsonPath: string, tokenizerConfigPath?: string, vocabSize?: number): HFTokenizerAdapter {
  const json = readJsonFile(tokenizerJsonPath, 'tokenizer.json');
  const config = tokenizerConfigPath ? readJsonFile(tokenizerConfigPath, 'tokenizer_config.json') : {};
  return new HFTokenizerAdapter(json, config, tokenizerJsonPath, { vocabSize, configFile: tokenizerConfigPath });
}
