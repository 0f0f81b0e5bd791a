// One word during merging, for the SentencePiece and the BPE encoders: its symbols as a
// linked list over their first positions, and the candidate merges in a binary max-heap
// over parallel typed arrays (no object per symbol or entry). Higher score first, the
// smaller left position on ties: SentencePiece passes its piece score, BPE minus the rank
// of the merge, so both pick what their reference picks. Entries are never removed when a
// neighbour changes; step() skips stale ones when it pops them (verL/verR).

/** The loop's arrays for words of up to `capacity` symbols; reused from word to word. */
export class MergeWord {
  readonly sym: Int32Array;
  /** next[i]: the symbol after the one at i, -1 at the end (the first is at 0). */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Bumped when the symbol at i changes, -1 once merged into its left neighbour. */
  readonly ver: Int32Array;
  // Every merge removes one symbol and offers at most two pairs: n - 1 + 2(n - 1) pushes.
  readonly heap: PairHeap;
  private n = 0;

  constructor(readonly capacity: number) {
    this.sym = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.ver = new Int32Array(capacity);
    this.heap = new PairHeap(3 * capacity);
  }

  /** Starts a word of `n` symbols (n <= capacity), set by the caller in sym[0..n). */
  start(n: number): void {
    this.n = n;
    for (let i = 0; i < n; i++) {
      this.next[i] = i + 1 < n ? i + 1 : -1;
      this.prev[i] = i - 1;
      this.ver[i] = 0;
    }
    this.heap.clear();
  }

  /** Offers merging the symbols at l and r (neighbours now) into `id`. */
  offer(score: number, l: number, r: number, id: number): void {
    this.heap.push(score, l, r, id, this.ver[l], this.ver[r]);
  }

  /**
   * Pops the best candidate and merges it when both its symbols are still as offered:
   * returns the merged symbol's position, or -1 for a stale candidate.
   */
  step(): number {
    const h = this.heap;
    const e = h.pop();
    const l = h.left[e];
    const r = h.right[e];
    if (this.ver[l] !== h.verL[e] || this.ver[r] !== h.verR[e] || this.next[l] !== r) return -1;
    this.sym[l] = h.id[e];
    this.ver[l]++;
    this.ver[r] = -1;
    const rn = this.next[r];
    this.next[l] = rn;
    if (rn >= 0) this.prev[rn] = l;
    return l;
  }

  /** The positions of the word's symbols, in order. */
  positions(): number[] {
    const out: number[] = [];
    if (this.n > 0) for (let i = 0; i >= 0; i = this.next[i]) out.push(i);
    return out;
  }
}

export class PairHeap {
  readonly score: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** The symbol the pair becomes. */
  readonly id: Int32Array;
  readonly verL: Int32Array;
  readonly verR: Int32Array;
  private readonly order: Int32Array; // heap of entry indices
  private count = 0; // entries ever pushed
  size = 0;

  /** `capacity`: the most pushes this heap will take between clears (an encoder knows: 3 per symbol). */
  constructor(capacity: number) {
    this.score = new Float64Array(capacity);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.id = new Int32Array(capacity);
    this.verL = new Int32Array(capacity);
    this.verR = new Int32Array(capacity);
    this.order = new Int32Array(capacity);
  }

  /** Empties the heap for the next word (the arrays are kept: allocating them is slow). */
  clear(): void {
    this.count = 0;
    this.size = 0;
  }

  private before(a: number, b: number): boolean {
    const sa = this.score[a];
    const sb = this.score[b];
    return sa > sb || (sa === sb && this.left[a] < this.left[b]);
  }

  push(score: number, l: number, r: number, id: number, vl: number, vr: number): void {
    const e = this.count++;
    this.score[e] = score;
    this.left[e] = l;
    this.right[e] = r;
    this.id[e] = id;
    this.verL[e] = vl;
    this.verR[e] = vr;
    const o = this.order;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, o[p])) break;
      o[i] = o[p];
      i = p;
    }
    o[i] = e;
  }

  /** The best entry's index (read its fields from the arrays); the heap must not be empty. */
  pop(): number {
    const o = this.order;
    const top = o[0];
    const last = o[--this.size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && this.before(o[c + 1], o[c])) c++;
      if (!this.before(o[c], last)) break;
      o[i] = o[c];
      i = c;
    }
    o[i] = last;
    return top;
  }
}
