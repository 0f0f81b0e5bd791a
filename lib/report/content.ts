// What every rendering of the report shares: tables, summary sentence, figure note.
import { chartPoints, ZOOM_CAP } from './chart';
import { LOG_RANGE_RATIO } from './chart-scale';
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
    'Top: perplexity on an axis fitted to the data (log scale when it spans more than ' +
    `${LOG_RANGE_RATIO}×); lines: unstructured sparsity levels; right panel: N:M patterns, one marker per method ` +
    'side by side (they share one sparsity); dashed rule: the dense model. ' +
    `Bottom: the same cells as perplexity / dense perplexity, cut at ${ZOOM_CAP}× so the levels where methods differ are readable.`;
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
