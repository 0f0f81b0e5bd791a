// Which training sequences each step uses: the drawn set is visited in epochs, each in
// a seeded random order (every sequence once per epoch), `batch` sequences a step. The
// same seed gives the same steps on every machine.
import { CalibrationSet } from '../calibration/sample';
import { SeededRandom } from '../util/random';

export class BatchOrder {
  private order: number[] = [];
  private next = 0;
  private readonly rng: SeededRandom;

  constructor(
    private readonly set: CalibrationSet,
    seed: number,
  ) {
    this.rng = new SeededRandom(seed ^ 0x5eed);
  }

  private shuffle(): void {
    const o = Array.from({ length: this.set.samples }, (_, i) => i);
    for (let i = o.length - 1; i > 0; --i) {
      const j = this.rng.int(0, i);
      [o[i], o[j]] = [o[j], o[i]];
    }
    this.order = o;
    this.next = 0;
  }

  /** The token ids of the next `batch` sequences (batch x seqLen, row-major). */
  take(batch: number): Int32Array {
    const L = this.set.seqLen;
    const out = new Int32Array(batch * L);
    for (let b = 0; b < batch; ++b) {
      if (this.next >= this.order.length) this.shuffle();
      const s = this.order[this.next++];
      out.set(this.set.tokens.subarray(s * L, (s + 1) * L), b * L);
    }
    return out;
  }
}
