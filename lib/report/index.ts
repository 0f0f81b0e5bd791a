// writeReport(): renders a sweep's results into results.json, results.csv, report.md,
// perplexity.svg, perplexity.png and report.html in one folder.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './atomic';
import { renderChartSvg } from './chart';
import { reportContent } from './content';
import { resultsToCsv } from './csv';
import { renderHtml } from './html';
import { resultsToJson } from './json';
import { renderMarkdown } from './markdown';
import { svgToPng } from './png';
import { validateResults } from './validate';
import type { ReportFiles, SweepResults } from './types';

export const REPORT_FILES = [
  'results.json',
  'results.csv',
  'perplexity.svg',
  'perplexity.png',
  'report.md',
  'report.html',
] as const;

/**
 * Writes the report files into `outDir` (created if missing), each atomically. The
 * data files come first, so they exist even if rendering the figure fails.
 */
export async function writeReport(results: SweepResults, outDir: string): Promise<ReportFiles> {
  validateResults(results);
  await fs.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: (typeof REPORT_FILES)[number], data: string | Uint8Array) => {
    const file = path.resolve(outDir, name);
    await writeFileAtomic(file, data);
    files.push(file);
  };
  await write('results.json', resultsToJson(results));
  await write('results.csv', resultsToCsv(results));
  const svg = await renderChartSvg(results);
  await write('perplexity.svg', svg);
  await write('perplexity.png', svgToPng(svg));
  const content = reportContent(results, 'perplexity.svg');
  await write('report.md', renderMarkdown(content));
  await write('report.html', renderHtml(content, svg));
  return { files };
}

export { readResults, parseResults, resultsToJson } from './json';
export { resultsToCsv } from './csv';
export { validateResults } from './validate';
export { chartSpec, renderChartSvg } from './chart';
export { svgToPng } from './png';
export type * from './types';
