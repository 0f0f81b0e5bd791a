// Tokenizer over a SentencePiece-style vocabulary (llama2.c .bin or GGUF metadata).
import type { EncodeOptions, Tokenizer } from './types';
import type { SpmVocab } from './spm-vocab';
import { spmEncode, spmEncodeSteps } from './spm-encode';
import type { Steps } from '../calibration/steps';
import { ArgumentRangeError } from '../errors';

const utf8 = new TextDecoder('utf-8');

export class SpmTokenizer implements Tokenizer {
  readonly kind: 'llama2c' | 'gguf-llama';
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly addBos: boolean;
  /** Bytes each id decodes to (byte tokens: their byte). */
  private readonly pieceBytes: Uint8Array[];

  constructor(readonly vocab: SpmVocab) {
    this.kind = vocab.kind;
    this.vocabSize = vocab.bytes.length;
    this.bosId = vocab.bos;
    this.eosId = vocab.eos;
    this.addBos = vocab.addBos;
    this.pieceBytes = vocab.bytes.map((s, id) =>
      vocab.byteOf[id] >= 0 ? Uint8Array.of(vocab.byteOf[id]) : new Uint8Array(Buffer.from(s, 'latin1')),
    );
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return spmEncode(this.vocab, text, opts.bos ?? false, opts.eos ?? false);
  }

  /** encode() as steps of bounded work, for callers that encode long texts in time slices. */
  encodeSteps(text: string, opts: EncodeOptions = {}): Steps<number[]> {
    return spmEncodeSteps(this.vocab, text, opts.bos ?? false, opts.eos ?? false);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new ArgumentRangeError(`token id ${id} is outside the ${this.vocabSize}-token vocabulary of ${this.vocab.origin}`);
    }
  }

  /** llama2.c decode(): the piece, minus a leading space right after BOS; byte tokens give their byte. */
  decodeTokenBytes(id: number, prevId?: number): Uint8Array {
    this.check(id);
    const b = this.pieceBytes[id];
    if (prevId !== undefined && prevId === this.bosId && this.vocab.byteOf[id] < 0 && b.length > 0 && b[0] === 0x20) {
      return b.subarray(1);
    }
    return b;
  }

  decodeToken(id: number, prevId?: number): string {
    return utf8.decode(this.decodeTokenBytes(id, prevId));
  }

  /**
   * SentencePiece-style: BOS, EOS and control ids are skipped, the dummy-prefix space of
   * the first piece is dropped, bytes are joined before UTF-8 decoding so byte tokens of
   * one character come out as that character.
   */
  decode(ids: number[]): string {
    const parts: Uint8Array[] = [];
    let first = true;
    for (const id of ids) {
      this.check(id);
      if (this.vocab.skipInDecode[id]) continue;
      let b = this.pieceBytes[id];
      if (first && this.vocab.byteOf[id] < 0 && b.length > 0 && b[0] === 0x20) b = b.subarray(1);
      first = false;
      parts.push(b);
    }
    return utf8.decode(Buffer.concat(parts));
  }

  piece(id: number): string {
    this.check(id);
    return this.vocab.display[id];
  }
}
