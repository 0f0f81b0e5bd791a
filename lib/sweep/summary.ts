// The short table `shears sweep` prints: one row per method and pattern (or structure), one column
// per level, perplexity in each cell ("na" where the cell did not apply or failed).
import type { SweepResults } from '../report/types';

const ppl = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) < 1e4 ? x.toFixed(2) : x.toExponential(2));

/** A row's name: the method and its pattern, or what a structured method removed. */
const rowOf = (c: SweepResults['cells'][number]) => `${c.method} ${typeof c.structure === 'string' ? c.structure : c.pattern}`;

export function summaryTable(r: SweepResults): string {
  const levels = [...new Set(r.cells.map((c) => c.level))].sort((a, b) => a - b);
  const rows = [...new Set(r.cells.map(rowOf))];
  const header = ['perplexity', ...levels.map((l) => String(Number(l.toFixed(4))))];
  const table: string[][] = [header, ['dense', ...levels.map(() => '')]];
  table[1][1] = ppl(r.dense.perplexity);
  for (const row of rows) {
    const line = [row];
    for (const l of levels) {
      const c = r.cells.find((x) => rowOf(x) === row && x.level === l);
      line.push(!c ? '' : c.status === 'na' || c.perplexity === null ? 'na' : ppl(c.perplexity));
    }
    table.push(line);
  }
  const widths = header.map((_, j) => Math.max(...table.map((t) => t[j].length)));
  return `${table.map((t) => t.map((v, j) => (j === 0 ? v.padEnd(widths[j]) : v.padStart(widths[j]))).join('  ').trimEnd()).join('\n')}\n`;
}
