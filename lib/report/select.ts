// Picking cells out of a sweep: methods in order, rows in table order, and the
// reference cells the summary tables compare at.
import { parseNM } from './validate';
import type { SweepCell, SweepResults } from './types';

const EPS = 1e-9;

/** Method names in order of first appearance. */
export function methodsOf(r: SweepResults): string[] {
  return [...new Set(r.cells.map((c) => c.method))];
}

/** A method's cells: unstructured by level, then N:M patterns by level and N. */
export function rowsOf(r: SweepResults, method: string): SweepCell[] {
  const key = (c: SweepCell) => (c.pattern === 'unstructured' ? 0 : 1);
  return r.cells
    .filter((c) => c.method === method)
    .sort(
      (a, b) =>
        key(a) - key(b) ||
        a.level - b.level ||
        (parseNM(a.pattern)?.m ?? 0) - (parseNM(b.pattern)?.m ?? 0),
    );
}

/**
 * The unstructured level the summary tables compare at: 50% when the sweep has it,
 * otherwise the swept unstructured level closest to 50% (null when there is none).
 */
export function referenceLevel(r: SweepResults): number | null {
  let best: number | null = null;
  for (const c of r.cells) {
    if (c.pattern !== 'unstructured') continue;
    if (best === null || Math.abs(c.level - 0.5) < Math.abs(best - 0.5) - EPS) best = c.level;
  }
  return best;
}

export function findCell(
  r: SweepResults,
  method: string,
  pattern: string,
  level?: number,
): SweepCell | undefined {
  return r.cells.find(
    (c) =>
      c.method === method &&
      c.pattern === pattern &&
      (level === undefined || Math.abs(c.level - level) < EPS),
  );
}

// Usual phases in pipeline order; any others follow in order of first appearance.
const PHASE_ORDER = ['load', 'calibrate', 'calibration', 'stats', 'prune', 'evaluate', 'eval'];

/** Timing phases other than "total". */
export function phasesOf(r: SweepResults): string[] {
  const phases = new Set<string>();
  for (const c of r.cells) for (const p of Object.keys(c.timings ?? {})) if (p !== 'total') phases.add(p);
  const rank = (p: string) => {
    const i = PHASE_ORDER.indexOf(p);
    return i < 0 ? PHASE_ORDER.length : i;
  };
  return [...phases].sort((a, b) => rank(a) - rank(b)); // stable: unknown phases keep their order
}
