// (left, right) pairs of small non-negative integers -> a non-negative integer, in typed
// arrays with open addressing. A Map keyed by left * count + right is three times slower
// in the BPE merge loop: its keys pass 2^31 and stop being small integers for V8.
export class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Int32Array;
  private readonly mask: number;

  /** `capacity`: the most distinct pairs that will be set. */
  constructor(capacity: number) {
    let size = 16;
    while (size < 2 * capacity) size *= 2; // at most half full: short probe runs
    this.mask = size - 1;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.value = new Int32Array(size);
  }

  private slot(a: number, b: number): number {
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) & this.mask;
    while (this.left[i] !== -1 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }

  /** Sets (a, b) to v, replacing an earlier value. */
  set(a: number, b: number, v: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.value[i] = v;
  }

  /** The value of (a, b), or -1. */
  get(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : this.value[i];
  }
}
