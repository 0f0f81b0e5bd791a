// results.json: the results object itself, numbers unrounded. JSON has no Infinity or
// NaN, so those are written as the strings "Infinity", "-Infinity" and "NaN" and turned
// back into numbers by readResults().
import { promises as fs } from 'node:fs';
import { ShearsError } from '../errors';
import { validateResults } from './validate';
import type { SweepResults } from './types';

const NON_FINITE = new Map<string, number>([
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['NaN', NaN],
]);

export function resultsToJson(r: SweepResults): string {
  const text = JSON.stringify(
    r,
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
    2,
  );
  return text + '\n';
}

const METRICS = ['sparsity', 'perplexity', 'kl', 'top1_agreement', 'peak_rss_bytes'];

function revive(holder: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) {
    const v = holder[k];
    if (typeof v === 'string' && NON_FINITE.has(v)) holder[k] = NON_FINITE.get(v);
  }
}

/** Parses results.json text; `source` names the file in error messages. */
export function parseResults(text: string, source = 'results.json'): SweepResults {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new ShearsError(`cannot parse ${source}: ${(e as Error).message}`, 'E_RESULTS', { cause: e });
  }
  if (typeof r === 'object' && r !== null) {
    const o = r as { dense?: Record<string, unknown>; cells?: unknown };
    if (o.dense && typeof o.dense === 'object') revive(o.dense, ['perplexity', 'sparsity', 'seconds']);
    if (Array.isArray(o.cells)) {
      for (const c of o.cells as Record<string, unknown>[]) {
        if (typeof c !== 'object' || c === null) continue;
        revive(c, METRICS);
        const t = c.timings as Record<string, unknown> | null | undefined;
        if (t && typeof t === 'object') revive(t, Object.keys(t));
      }
    }
  }
  validateResults(r, source);
  return r;
}

/** Reads and checks a results.json written by writeReport() or `shears sweep`. */
export async function readResults(file: string): Promise<SweepResults> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ShearsError(`cannot read ${file}: ${(e as Error).message}`, 'E_RESULTS', { cause: e });
  }
  return parseResults(text, file);
}
