// paper.md, paper.html and paper.json: the same tables (lib/paper/tables.ts) in three
// forms; the HTML page is self-contained (inline CSS and the sweeps' SVG figures).
import { CSS, escapeHtml, htmlTable } from '../report/html';
import { markdownTable } from '../report/markdown';
import type { PaperTable } from './tables';

export interface PaperFigure {
  /** Which tables it draws (e.g. "Tables 1 and 2"). */
  caption: string;
  /** Relative to the paper folder (for paper.md). */
  file: string;
  svg: string;
}

export interface PaperDocument {
  title: string;
  /** What ran: the model, data, settings, seconds. */
  summary: string[];
  tables: PaperTable[];
  figures: PaperFigure[];
}

export function paperMarkdown(d: PaperDocument): string {
  const parts = [`# ${d.title}\n`, ...d.summary.map((s) => `${s}\n`)];
  for (const t of d.tables) parts.push(`## ${t.title}\n`, ...(t.caption ? [`${t.caption}\n`] : []), `${markdownTable(t)}\n`);
  if (d.figures.length) parts.push('## Figures\n', ...d.figures.map((f) => `![${f.caption}](${f.file})\n\n${f.caption}\n`));
  return parts.join('\n');
}

export function paperHtml(d: PaperDocument): string {
  const nav = d.tables.map((t) => `<a href="#table-${t.id}">Table ${escapeHtml(t.id)}</a>`).join('');
  const figures = d.figures
    .map((f) => `<figure>\n${f.svg.replace(/^<\?xml[^>]*>\s*/, '')}\n<figcaption>${escapeHtml(f.caption)}</figcaption>\n</figure>`)
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(d.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(d.title)}</h1>
${d.summary.map((s) => `<p>${escapeHtml(s)}</p>`).join('\n')}
<nav>${nav}<a href="#figures">Figures</a></nav>
${d.tables.map((t) => htmlTable(t, `table-${t.id}`, 'h2')).join('\n')}
<section id="figures">
<h2>Figures</h2>
${figures}
</section>
</main>
</body>
</html>
`;
}

export function paperJson(d: PaperDocument, extra: Record<string, unknown>): string {
  return `${JSON.stringify({ title: d.title, summary: d.summary, tables: d.tables, figures: d.figures.map((f) => ({ caption: f.caption, file: f.file })), ...extra }, null, 2)}\n`;
}
