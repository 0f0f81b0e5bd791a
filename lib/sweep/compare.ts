// A cell's outcome without what depends on when and where it ran: its timings, the
// process's memory peak, the time it was computed, and every `seconds` inside it (an
// allocation's search time...). Two runs of the same sweep (locally, or on any workers)
// give equal outcomes: what bench:distributed and the distributed tests compare.
import type { SweepCell } from '../report/types';

function withoutSeconds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSeconds);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'seconds').map(([k, x]) => [k, withoutSeconds(x)]));
}

export function cellOutcome(c: SweepCell): unknown {
  const { timings, peak_rss_bytes, computed_at, ...rest } = c as SweepCell & { computed_at?: string };
  void timings, void peak_rss_bytes, void computed_at;
  return withoutSeconds(rest);
}

/** The indices of the cells whose outcomes differ (a different cell count: every index past the shorter). */
export function differingCells(a: readonly SweepCell[], b: readonly SweepCell[]): number[] {
  const n = Math.max(a.length, b.length);
  return [...Array(n).keys()].filter((i) => i >= a.length || i >= b.length || JSON.stringify(cellOutcome(a[i])) !== JSON.stringify(cellOutcome(b[i])));
}
