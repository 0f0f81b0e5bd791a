// Wall-clock seconds per named phase, for reports (prune, sweep cells, the pipeline).

export const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

export class PhaseClock {
  /** Phase name -> seconds, summed over every time() of that phase. */
  readonly timings: Record<string, number> = {};
  private readonly t0 = process.hrtime.bigint();

  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const s = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.timings[phase] = (this.timings[phase] ?? 0) + secondsSince(s);
    }
  }

  /** Seconds since the clock was made. */
  elapsed(): number {
    return secondsSince(this.t0);
  }
}
