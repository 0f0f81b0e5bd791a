// Builders for tokenizer tests: llama2.c tok.bin buffers, seeded random vocabularies and
// strings, and the reference-encoder view of a vocabulary.
import type { SpmVocab } from '../../lib/tokenizer/spm-vocab';
import type { ReferenceVocab } from './tokenizer-reference';

export { rng } from './random';

/** A llama2.c tokenizer file: int32 max_token_length, then (float32 score, int32 len, bytes). */
export function tokBin(pieces: (string | Uint8Array)[], scores: number[], maxTokenLength?: number): Buffer {
  const raw = pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)));
  const max = maxTokenLength ?? Math.max(1, ...raw.map((b) => b.length));
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeInt32LE(max, 0);
  parts.push(head);
  raw.forEach((b, i) => {
    const rec = Buffer.alloc(8);
    rec.writeFloatLE(scores[i], 0);
    rec.writeInt32LE(b.length, 4);
    parts.push(rec, b);
  });
  return Buffer.concat(parts);
}

/**
 * A llama2.c-layout vocabulary: <unk>, "\n<s>\n", "\n</s>\n", 256 byte tokens, the
 * characters of `alphabet`, then random concatenations of earlier pieces. Scores are
 * small integers so that many ties occur (tie-breaking is what the tests probe).
 */
export function randomLlama2cVocab(r: () => number, alphabet: string[], merges: number): { pieces: string[]; scores: number[] } {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
  }
  const words = alphabet.slice();
  for (const c of alphabet) {
    pieces.push(c);
    scores.push(-Math.floor(r() * 5) - 20);
  }
  for (let i = 0; i < merges; i++) {
    const a = words[Math.floor(r() * words.length)];
    const b = words[Math.floor(r() * words.length)];
    const w = a + b;
    if (Buffer.byteLength(w) > 12) continue;
    words.push(w);
    pieces.push(w); // duplicates allowed: the first id wins in lookups
    scores.push(-Math.floor(r() * 8));
  }
  return { pieces, scores };
}

/** Random text mixing vocabulary pieces, extra characters, spaces and newlines. */
export function randomText(r: () => number, pieces: string[], extra: string[], length: number): string {
  let s = '';
  while (s.length < length) {
    const x = r();
    if (x < 0.55) s += pieces[Math.floor(r() * pieces.length)];
    else if (x < 0.75) s += ' ';
    else if (x < 0.8) s += '\n';
    else s += extra[Math.floor(r() * extra.length)];
  }
  return s;
}

/** The reference encoder's view of a vocabulary, with llama2.c's or GGUF's lookup and fallback. */
export function referenceVocab(v: SpmVocab): ReferenceVocab {
  const lookupIds = new Set(v.lookup.values());
  return {
    pieces: v.bytes,
    scores: v.scores,
    lookupable: v.kind === 'llama2c' ? undefined : (id) => lookupIds.has(id),
    // llama2.c: byte + 3 (unk past the end of the vocabulary); GGUF: the <0xXX> token.
    byteFallback: v.kind === 'llama2c' ? (b) => (b + 3 < v.bytes.length ? b + 3 : 0) : (b) => v.byteIds[b],
    bos: v.bos ?? -1,
    eos: v.eos ?? -1,
  };
}
