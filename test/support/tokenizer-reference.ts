// A literal, slow transcription of llama2.c's encode() (run.c), the oracle for the heap
// encoder. It walks the UTF-8 bytes as the C loop does and rescans all adjacent pairs
// per merge with the same strict '>' comparison (leftmost wins ties). Pieces and lookups
// are byte strings (latin1), like C strings. NUL is treated as an ordinary character
// (C would stop there), the one documented deviation shared with lib/tokenizer.

export interface ReferenceVocab {
  /** Piece bytes as latin1 strings. */
  pieces: string[];
  scores: ArrayLike<number>;
  /** Which ids str_lookup may return (all of them for llama2.c). */
  lookupable?: (id: number) => boolean;
  /** Id for a byte with no code point match (llama2.c: byte + 3). */
  byteFallback: (byte: number) => number;
  bos: number;
  eos: number;
}

export function referenceEncode(v: ReferenceVocab, text: string, bos: boolean, eos: boolean): number[] {
  const strLookup = (s: string): number => {
    for (let i = 0; i < v.pieces.length; i++) {
      if (v.pieces[i] === s && (!v.lookupable || v.lookupable(i))) return i;
    }
    return -1;
  };
  const memo = new Map<string, number>();
  const lookup = (s: string): number => {
    let r = memo.get(s);
    if (r === undefined) memo.set(s, (r = strLookup(s)));
    return r;
  };
  const bytes = Buffer.from(text, 'utf8');
  const tokens: number[] = [];
  if (bos) tokens.push(v.bos);
  if (bytes.length > 0) tokens.push(lookup(' '));
  let buf: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[c]);
    const nextByte = c + 1 < bytes.length ? bytes[c + 1] : 0;
    if ((nextByte & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup(Buffer.from(buf).toString('latin1'));
    if (id !== -1) tokens.push(id);
    else for (const b of buf) tokens.push(v.byteFallback(b));
    buf = [];
  }
  const best0 = Math.fround(-1e10);
  for (;;) {
    let bestScore = best0;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(v.pieces[tokens[i]] + v.pieces[tokens[i + 1]]);
      if (id !== -1 && v.scores[id] > bestScore) {
        bestScore = v.scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  if (eos) tokens.push(v.eos);
  return tokens;
}
