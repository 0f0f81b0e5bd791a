// Checks a results object before anything is rendered, so a malformed sweep fails with
// a message naming the cell and field instead of producing a misleading report.
import { ShearsError } from '../errors';
import type { SweepCell, SweepResults } from './types';

const NM = /^(\d+):(\d+)$/;

function fail(where: string, message: string): never {
  throw new ShearsError(`invalid sweep results${where}: ${message}`, 'E_RESULTS');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses "N:M" into numbers, or null for anything else. */
export function parseNM(pattern: string): { n: number; m: number } | null {
  const m = NM.exec(pattern);
  if (!m) return null;
  return { n: Number(m[1]), m: Number(m[2]) };
}

function checkCell(c: unknown, i: number, where: string): void {
  const at = `${where} cells[${i}]`;
  if (!isObject(c)) fail(at, 'expected an object');
  if (typeof c.method !== 'string' || c.method === '') fail(at, '"method" must be a non-empty string');
  const label = `${at} (${c.method})`;
  if (typeof c.pattern !== 'string') fail(label, '"pattern" must be "unstructured" or "N:M"');
  if (c.pattern !== 'unstructured') {
    const nm = parseNM(c.pattern);
    if (!nm || nm.n < 1 || nm.n >= nm.m) {
      fail(label, `"pattern" must be "unstructured" or "N:M" with 1 <= N < M, got "${c.pattern}"`);
    }
  }
  if (typeof c.level !== 'number' || !(c.level >= 0 && c.level < 1)) {
    fail(label, `"level" must be a number in [0, 1), got ${JSON.stringify(c.level)}`);
  }
  if (c.status !== 'ok' && c.status !== 'na') fail(label, `"status" must be "ok" or "na"`);
  if (c.status === 'na') {
    if (typeof c.reason !== 'string' || c.reason.trim() === '') {
      fail(label, 'a cell with status "na" needs a non-empty "reason"');
    }
  }
  // Metrics: numbers (any, including non-finite: a diverged model is a result) or null.
  for (const key of ['sparsity', 'perplexity', 'kl', 'top1_agreement', 'peak_rss_bytes']) {
    const v = c[key];
    if (v === undefined || v === null) {
      if (c.status === 'ok' && key !== 'peak_rss_bytes') fail(label, `"${key}" is required when status is "ok"`);
      continue;
    }
    if (typeof v !== 'number') fail(label, `"${key}" must be a number or null, got ${JSON.stringify(v)}`);
  }
  if (c.timings !== undefined && c.timings !== null) {
    if (!isObject(c.timings)) fail(label, '"timings" must be an object of seconds');
    for (const [phase, s] of Object.entries(c.timings)) {
      if (typeof s !== 'number') fail(label, `timings.${phase} must be a number of seconds`);
    }
  }
}

/**
 * Throws a ShearsError (code E_RESULTS) naming the first problem; `source` (a file
 * name) is included in the message when given.
 */
export function validateResults(r: unknown, source?: string): asserts r is SweepResults {
  const where = source ? ` in ${source}` : '';
  if (!isObject(r)) fail(where, 'expected an object');
  if (typeof r.model !== 'string' || r.model === '') fail(where, '"model" must be a non-empty string');
  if (!isObject(r.dense) || typeof r.dense.perplexity !== 'number') {
    fail(where, '"dense.perplexity" must be a number');
  }
  if (r.settings !== undefined && !isObject(r.settings)) fail(where, '"settings" must be an object');
  if (!Array.isArray(r.cells)) fail(where, '"cells" must be an array');
  const seen = new Map<string, number>();
  r.cells.forEach((c, i) => {
    checkCell(c, i, where);
    const cell = c as SweepCell;
    const key = `${cell.method}\u0000${cell.pattern}\u0000${cell.level}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      fail(where, `cells[${prev}] and cells[${i}] are both ${cell.method} ${cell.pattern} at level ${cell.level}`);
    }
    seen.set(key, i);
  });
}
