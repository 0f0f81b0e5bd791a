// The calibration inputs of one layer, as variational dropout trains on them: a uniform
// sample of at most `maxRows` token rows (reservoir sampling, seeded), so memory stays
// bounded however many calibration tokens there are. Each row is copied whole (no
// arithmetic here); `seen` counts every row offered.
import type { Collector } from '../collectors';

/** Rows kept per layer input by default: 4096 x width floats (4 MiB at width 256). */
export const DEFAULT_MAX_ROWS = 4096;

export class RowSample implements Collector {
  // Grows by doubling up to maxRows rows: a short calibration set never holds the full reservoir.
  private data = new Float32Array(0);
  private kept = 0;
  /** Rows offered so far (the calibration tokens the sample stands for). */
  seen = 0;
  private state: number;

  constructor(
    readonly width: number,
    readonly maxRows = DEFAULT_MAX_ROWS,
    seed = 0,
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${String(maxRows)}`);
    this.state = seed >>> 0;
  }

  // mulberry32: a small seeded generator (the sample depends on the seed and the row order only).
  private random(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  add(x: Float32Array, rows: number): Promise<void> {
    const w = this.width;
    if (x.length !== rows * w) return Promise.reject(new RangeError(`layer input has ${x.length} values, expected ${rows} rows x ${w}`));
    for (let r = 0; r < rows; r++) {
      this.seen++;
      // Reservoir sampling (Vitter's algorithm R): row `seen` replaces a kept one with probability maxRows / seen.
      const slot = this.kept < this.maxRows ? this.kept++ : Math.floor(this.random() * this.seen);
      if (slot < this.maxRows && (slot + 1) * w > this.data.length) this.grow(slot + 1);
      if (slot < this.maxRows) this.data.set(x.subarray(r * w, (r + 1) * w), slot * w);
    }
    return Promise.resolve();
  }

  private grow(rows: number): void {
    const next = new Float32Array(Math.min(this.maxRows, Math.max(rows, 2 * (this.data.length / this.width), 64)) * this.width);
    next.set(this.data);
    this.data = next;
  }

  /** The kept rows, [rows, width] (a view: valid until the next add). */
  rows(): { x: Float32Array; rows: number } {
    return { x: this.data.subarray(0, this.kept * this.width), rows: this.kept };
  }
}
