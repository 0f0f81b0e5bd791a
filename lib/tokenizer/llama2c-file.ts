// Reader for llama2.c tokenizer files (tok*.bin, tokenizer.bin):
//   int32 max_token_length, then per token: float32 score, int32 len, len bytes.
// The count is not stored: llama2.c reads vocab_size records, vocab_size coming from the
// model header. Without it we read records until the end of the file.
import * as fs from 'node:fs';
import { ShearsError } from '../errors';
import { MAX_LLAMA2C_TOKENIZER_BYTES } from '../formats/llama2c-tokenizer';
import { SpmVocab, buildLookup, bytePieceValue, byteStringToUtf8, latin1 } from './spm-vocab';

export class TokenizerFileError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_TOKENIZER_FILE');
  }
}

/** Far above real vocabularies (256k); bounds the per-token objects a file can make. */
export const MAX_LLAMA2C_TOKENS = 1 << 21;

export interface Llama2cTokenizerFile {
  maxTokenLength: number;
  pieces: Uint8Array[];
  scores: Float32Array;
}

export function parseLlama2cTokenizer(buf: Uint8Array, file: string, vocabSize?: number): Llama2cTokenizerFile {
  const fail = (what: string): never => {
    throw new TokenizerFileError(`llama2.c tokenizer ${file}: ${what}`);
  };
  if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize <= 0)) {
    fail(`expected vocabulary size must be a positive integer, got ${vocabSize}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 4) fail(`file is ${buf.byteLength} bytes, too short for the int32 max_token_length header`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > 1 << 16) {
    fail(`max_token_length ${maxTokenLength} in the header is not plausible (not a llama2.c tokenizer file?)`);
  }
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < buf.byteLength && (vocabSize === undefined || pieces.length < vocabSize)) {
    const i = pieces.length;
    if (i >= MAX_LLAMA2C_TOKENS) fail(`holds more than ${MAX_LLAMA2C_TOKENS} tokens, beyond any real vocabulary`);
    if (off + 8 > buf.byteLength) fail(`truncated at token ${i}: ${buf.byteLength - off} bytes left, a record needs 8 before its text`);
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    if (Number.isNaN(score)) fail(`token ${i} has a NaN score (byte offset ${off})`);
    if (len < 0) fail(`token ${i} has negative length ${len} (byte offset ${off + 4})`);
    if (len > maxTokenLength) fail(`token ${i} is ${len} bytes long, more than max_token_length ${maxTokenLength}`);
    if (off + 8 + len > buf.byteLength) {
      fail(`token ${i} length ${len} runs past the end of the file (byte offset ${off + 8}, file size ${buf.byteLength})`);
    }
    pieces.push(buf.subarray(off + 8, off + 8 + len));
    scores.push(score);
    off += 8 + len;
  }
  if (vocabSize !== undefined) {
    if (pieces.length < vocabSize) fail(`holds ${pieces.length} tokens but the model's vocabulary size is ${vocabSize} (truncated?)`);
    if (off !== buf.byteLength) {
      fail(`holds more than the model's vocabulary size of ${vocabSize} tokens (${buf.byteLength - off} bytes left over)`);
    }
  }
  if (pieces.length === 0) fail('holds no tokens');
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

/** Reads and validates a tok*.bin; vocabSize (from the model) makes the count check exact. */
export function readLlama2cTokenizer(file: string, vocabSize?: number): Llama2cTokenizerFile {
  let buf: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_LLAMA2C_TOKENIZER_BYTES) throw new TokenizerFileError(`llama2.c tokenizer ${file}: ${size} bytes, more than the ${MAX_LLAMA2C_TOKENIZER_BYTES} of any real tokenizer file`);
    buf = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof TokenizerFileError) throw e;
    throw new TokenizerFileError(`llama2.c tokenizer ${file}: cannot read (${(e as Error).message})`);
  }
  return parseLlama2cTokenizer(buf, file, vocabSize);
}

/**
 * llama2.c semantics: every piece is looked up (ids 1 and 2 included, stored as
 * "\n<s>\n" / "\n</s>\n" so text never reaches them); missing characters become byte + 3
 * (even on vocabularies without byte tokens, like tok105, where that is an ordinary piece);
 * BOS = 1 and EOS = 2 are hard-coded in run.c.
 */
export function llama2cVocab(tf: Llama2cTokenizerFile, origin: string): SpmVocab {
  const n = tf.pieces.length;
  const bytes = tf.pieces.map(latin1);
  const byteOf = new Int16Array(n);
  for (let id = 0; id < n; id++) byteOf[id] = bytePieceValue(bytes[id]);
  const byteIds = new Int32Array(256);
  // llama2.c would emit byte + 3 even past the end of the vocabulary (tok105 has 105
  // tokens: any non-ASCII character not in it), and its forward pass would then read out
  // of bounds. Those bytes become unk (id 0) instead, SentencePiece's rule without byte
  // fallback; the token count stays one per byte.
  for (let b = 0; b < 256; b++) byteIds[b] = b + 3 < n ? b + 3 : 0;
  const skipInDecode = new Uint8Array(n);
  if (n > 1) skipInDecode[1] = 1;
  if (n > 2) skipInDecode[2] = 1;
  return {
    kind: 'llama2c',
    origin,
    bytes,
    display: bytes.map(byteStringToUtf8),
    scores: tf.scores,
    lookup: buildLookup(bytes, () => true),
    byteIds,
    fallback: 'byte+3',
    byteOf,
    skipInDecode,
    bos: n > 1 ? 1 : undefined,
    eos: n > 2 ? 2 : undefined,
    unk: 0,
    addBos: true,
    addEos: false,
  };
}
