// The merge step of an HF BPE model on one word, with the same pieces as
// @huggingface/tokenizers' BPE.bpe(), in O(n log n) over typed arrays.
//
// The library (0.2.0) also merges with a heap, but keeps one object per symbol, looks each
// pair up by JSON.stringify([a, b]) and concatenates strings at every merge. Llama-style
// tokenizers (a Prepend/Replace normalizer and no pre-tokenizer) hand it the whole text as
// one word, so a 255 KB text is a single 255,000-symbol word: 7 s in the library, growing
// faster than linearly. Here every string that a merge names (left, right and their
// concatenation) is interned once, a pair is a number, and a merge changes two array slots.
//
// Same result, by construction: the library merges the pair of lowest rank first and, on
// equal rank, the leftmost (its score is rank + position / length, and a merged symbol keeps
// its left part's position); a pair merges exactly when [left, right] is a merge of the
// file (a later duplicate of a merge gives the rank); the result is left + right. The heap
// below orders by (-rank, left position) and the pair table is keyed by interned strings,
// so it picks the same merges in the same order. Suffixes are applied as the library does.
// test/tokenizer/bpe-fast.test.ts checks it against the library on real and random text.
import { MergeWord } from './merge-word';
import { PairTable } from './pair-table';

export interface BpeMergeOptions {
  /** Appended to the word's last character before merging (BPE end_of_word_suffix). */
  endOfWordSuffix?: string | null;
  /** Appended to every piece but the last after merging (BPE continuing_subword_suffix). */
  continuingSubwordSuffix?: string | null;
}

/** Words shorter than this are cached, as in the library (repeated words in split text). */
const MAX_CACHED_LENGTH = 256;
const CACHE_CAPACITY = 10_000;

export class BpeMerger {
  /** Every string a merge names -> its symbol number. */
  private readonly symbolOf = new Map<string, number>();
  private readonly strings: string[] = [];
  /** (left, right) -> rank of that merge. */
  private readonly rankOf: PairTable;
  /** rank -> the symbol the merge makes. */
  private readonly resultOf: Int32Array;
  private readonly cache = new Map<string, string[]>();
  /** The merge loop's arrays, kept from word to word (allocating them per word costs more than merging a short word). */
  private word = new MergeWord(0);
  /**
   * Characters that some merge result holds after its first character. No merge can join
   * a symbol to a right neighbour that starts with any other character, so a word can be
   * cut before such characters and its parts merged alone, with the same pieces (null:
   * not used, with suffixes).
   */
  private readonly innerChars: Set<string> | null;

  /** `merges`: the model's merges in rank order, each [left, right]. */
  constructor(
    merges: ReadonlyArray<readonly [string, string]>,
    private readonly opts: BpeMergeOptions = {},
  ) {
    for (const [a, b] of merges) {
      this.intern(a);
      this.intern(b);
      this.intern(a + b);
    }
    this.rankOf = new PairTable(merges.length);
    this.resultOf = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      // A later duplicate of a pair overrides the earlier rank, as in the library's Map.
      this.rankOf.set(this.symbolOf.get(a)!, this.symbolOf.get(b)!, rank);
      this.resultOf[rank] = this.symbolOf.get(a + b)!;
    });
    this.innerChars = opts.endOfWordSuffix || opts.continuingSubwordSuffix ? null : new Set<string>();
    if (this.innerChars) for (const [a, b] of merges) for (const c of Array.from(a + b).slice(1)) this.innerChars.add(c);
  }

  private intern(s: string): void {
    if (!this.symbolOf.has(s)) {
      this.symbolOf.set(s, this.strings.length);
      this.strings.push(s);
    }
  }

  /** The pieces of one word (the caller must not modify the array: it may be cached). */
  pieces(word: string): string[] {
    if (word.length === 0) return [];
    return word.length >= MAX_CACHED_LENGTH && this.innerChars ? this.mergeParts(word) : this.mergeCached(word);
  }

  private mergeCached(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const out = this.merge(word);
    if (word.length < MAX_CACHED_LENGTH) {
      if (this.cache.size >= CACHE_CAPACITY) this.cache.clear();
      this.cache.set(word, out);
    }
    return out;
  }

  /**
   * A long word (a Llama-style tokenizer passes the whole text as one) cut before every
   * character outside innerChars (the "▁" of each word there): the parts repeat, and
   * come from the cache.
   */
  private mergeParts(word: string): string[] {
    const inner = this.innerChars!;
    const out: string[] = [];
    let start = 0;
    let i = 0;
    for (const c of word) {
      if (i > start && !inner.has(c)) {
        for (const p of this.mergeCached(word.slice(start, i))) out.push(p);
        start = i;
      }
      i += c.length;
    }
    for (const p of this.mergeCached(word.slice(start))) out.push(p);
    return out;
  }

  private merge(word: string): string[] {
    // One symbol per code point (for...of splits as the library's Array.from does). A
    // character that no merge names gets -1: it can never merge.
    const chars = Array.from(word);
    if (this.opts.endOfWordSuffix) chars[chars.length - 1] += this.opts.endOfWordSuffix;
    const n = chars.length;
    if (this.word.capacity < n) this.word = new MergeWord(Math.max(n, 2 * this.word.capacity, 64));
    const w = this.word;
    for (let i = 0; i < n; i++) w.sym[i] = this.symbolOf.get(chars[i]) ?? -1;
    w.start(n);
    const offer = (l: number, r: number): void => {
      if (w.sym[l] < 0 || w.sym[r] < 0) return;
      const rank = this.rankOf.get(w.sym[l], w.sym[r]);
      if (rank >= 0) w.offer(-rank, l, r, this.resultOf[rank]);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);
    while (w.heap.size > 0) {
      const l = w.step();
      if (l < 0) continue; // stale
      if (w.prev[l] >= 0) offer(w.prev[l], l);
      if (w.next[l] >= 0) offer(l, w.next[l]);
    }
    const out = w.positions().map((i) => (w.sym[i] >= 0 ? this.strings[w.sym[i]] : chars[i]));
    const suffix = this.opts.continuingSubwordSuffix;
    if (suffix) for (let i = 0; i < out.length - 1; i++) out[i] += suffix;
    return out;
  }
}
