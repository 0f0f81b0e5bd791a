// Text for one table cell. Every value is either a measured number, formatted, or
// "NA (reason)": a report never shows an empty cell or a number nobody measured.
import type { SweepCell } from './types';

export type Formatter = (x: number) => string;

/** Up to `digits` decimals, without trailing zeros ("50%", "12.5%"). */
function trimFixed(x: number, digits: number): string {
  return String(Number(x.toFixed(digits)));
}

export const fmt = {
  perplexity: (x: number) => (Math.abs(x) < 1e4 ? x.toFixed(2) : x.toExponential(2)),
  fraction: (x: number) => `${(x * 100).toFixed(2)}%`,
  kl: (x: number) => (x === 0 ? '0' : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(3)),
  agreement: (x: number) => `${(x * 100).toFixed(1)}%`,
  seconds: (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)),
  bytes: (x: number) =>
    x >= 2 ** 30 ? `${(x / 2 ** 30).toFixed(2)} GiB` : `${(x / 2 ** 20).toFixed(1)} MiB`,
} satisfies Record<string, Formatter>;

/** A number that may be missing or non-finite, formatted or explained. */
export function num(x: number | null | undefined, f: Formatter, missing = 'not measured'): string {
  if (x === null || x === undefined) return `NA (${missing})`;
  if (Number.isNaN(x)) return 'NA (NaN: no number was produced)';
  if (!Number.isFinite(x)) return x > 0 ? '∞ (overflow)' : '-∞ (overflow)';
  return f(x);
}

/** A cell's value: its reason when the cell is NA, else the formatted number. */
export function cellValue(
  cell: SweepCell | undefined,
  get: (c: SweepCell) => number | null | undefined,
  f: Formatter,
  absent = 'not in sweep',
): string {
  if (!cell) return `NA (${absent})`;
  if (cell.status === 'na') return `NA (${oneLine(cell.reason ?? 'no reason given')})`;
  return num(get(cell), f);
}

/** Requested level as a row label: "50%" or "2:4 (50%)". */
export function levelLabel(cell: Pick<SweepCell, 'pattern' | 'level'>): string {
  const pct = `${trimFixed(cell.level * 100, 1)}%`;
  return cell.pattern === 'unstructured' ? pct : `${cell.pattern} (${pct})`;
}

/** Collapses newlines and runs of spaces so a reason fits in one table cell. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Free-form settings value as text. */
export function settingText(v: unknown): string {
  if (typeof v === 'string') return v === '' ? '"" (empty)' : oneLine(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'NA (not recorded)';
  return oneLine(JSON.stringify(v));
}
