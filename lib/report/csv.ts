// results.csv: one row per cell, with a header. Integers are exact, other numbers keep
// 8 significant digits;
// a value that was not measured is "NA" and an NA cell keeps its reason.
import { phasesOf } from './select';
import type { SweepCell, SweepResults } from './types';

function csvNumber(x: number | null | undefined): string {
  if (x === null || x === undefined) return 'NA';
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(8)));
}

function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Column names, in order: fixed ones, then one seconds column per timing phase. */
export function csvColumns(r: SweepResults): string[] {
  return [
    'method',
    'pattern',
    'level',
    'status',
    'sparsity',
    'perplexity',
    'kl',
    'top1_agreement',
    'total_seconds',
    ...phasesOf(r).map((p) => `${p}_seconds`),
    'peak_rss_bytes',
    'reason',
  ];
}

function row(c: SweepCell, phases: string[]): string[] {
  return [
    c.method,
    c.pattern,
    csvNumber(c.level),
    c.status,
    csvNumber(c.sparsity),
    csvNumber(c.perplexity),
    csvNumber(c.kl),
    csvNumber(c.top1_agreement),
    csvNumber(c.timings?.total),
    ...phases.map((p) => csvNumber(c.timings?.[p])),
    csvNumber(c.peak_rss_bytes),
    c.reason ?? '',
  ];
}

export function resultsToCsv(r: SweepResults): string {
  const phases = phasesOf(r);
  const lines = [csvColumns(r), ...r.cells.map((c) => row(c, phases))];
  return lines.map((l) => l.map(csvField).join(',')).join('\n') + '\n';
}
