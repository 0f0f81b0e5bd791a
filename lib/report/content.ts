// What every rendering of the report shares: tables, summary sentence, figure note.
import { chartPoints } from './chart';
import { methodsOf } from './select';
import { reportTables } from './tables';
import type { SweepResults } from './types';

export interface ReportContent {
  results: SweepResults;
  tables: ReturnType<typeof reportTables>;
  summary: string;
  /** Says what the figure shows and which cells it leaves out. */
  figureNote: string;
  figureFile: string;
}

export function reportContent(r: SweepResults, figureFile = 'perplexity.svg'): ReportContent {
  const na = r.cells.filter((c) => c.status === 'na').length;
  const methods = methodsOf(r);
  const { omitted } = chartPoints(r);
  let figureNote =
    'Lines: unstructured sparsity levels; separate markers: N:M patterns; dashed rule: the dense model.';
  if (omitted.length) figureNote += ` Not plotted (no finite positive perplexity): ${omitted.join('; ')}.`;
  return {
    results: r,
    tables: reportTables(r),
    summary:
      `${r.cells.length} cells: ${methods.length} method${methods.length === 1 ? '' : 's'} ` +
      `(${methods.join(', ') || 'none'}), ${na} not applicable or failed (shown as NA with the reason). ` +
      'Dense perplexity is the reference row of every table.',
    figureNote,
    figureFile,
  };
}
