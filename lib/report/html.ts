// report.html: one self-contained page (inline CSS and SVG, no scripts, no external
// requests) with the same tables as report.md.
import { modelName } from './model-name';
import { METHOD_TABLES_NOTE, type Table } from './tables';
import type { ReportContent } from './content';

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const CSS = `
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
  background: #fff; margin: 0; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
p.caption { color: #555; font-size: 0.9em; margin: 0.3em 0 0.6em; }
nav { font-size: 0.9em; color: #555; }
nav a { color: #2857a4; margin-right: 1em; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.4em 0 1em; }
th, td { border: 1px solid #d0d0d0; padding: 4px 10px; }
th { background: #f3f4f6; text-align: center; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; font-weight: 600; white-space: nowrap; }
.table-wrap { overflow-x: auto; max-width: 100%; }
td.na { color: #8a5a00; background: #fff8e6; font-style: italic; text-align: center; }
td.text { text-align: left; }
td.ref { color: #555; }
`;

function cellClass(s: string, text: boolean): string {
  if (s.startsWith('NA (')) return ' class="na"';
  if (s.endsWith('(reference)')) return ' class="ref"';
  return text ? ' class="text"' : '';
}

/** A row's cells; a run of identical NA cells (a cell that failed) becomes one wide cell. */
function htmlRow(row: string[], text: Set<number>): string {
  const out: string[] = [];
  for (let i = 0; i < row.length; ) {
    let j = i + 1;
    if (i > 0 && row[i].startsWith('NA (')) while (j < row.length && row[j] === row[i]) j++;
    const span = j - i > 1 ? ` colspan="${j - i}"` : '';
    out.push(`<td${span}${cellClass(row[i], text.has(i))}>${escapeHtml(row[i])}</td>`);
    i = j;
  }
  return `<tr>${out.join('')}</tr>`;
}

export function htmlTable(t: Table, id: string, heading: 'h2' | 'h3'): string {
  const head = t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const text = new Set([0, ...(t.textColumns ?? [])]);
  const body = t.rows.map((r) => htmlRow(r, text)).join('\n');
  return (
    `<section id="${id}">\n<${heading}>${escapeHtml(t.title)}</${heading}>\n` +
    (t.caption ? `<p class="caption">${escapeHtml(t.caption)}</p>\n` : '') +
    `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>\n</section>`
  );
}

/** `svg` is the figure as rendered by vega; it is inlined as it is. */
export function renderHtml(c: ReportContent, svg: string): string {
  const title = `Pruning sweep: ${modelName(c.results)}`;
  const methodSections = c.tables.methods.map((t, i) => htmlTable(t, `method-${i + 1}`, 'h3'));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(c.summary)}</p>
<nav><a href="#figure">Figure</a><a href="#methods">Per method</a><a href="#timing">Running time</a><a href="#end-to-end">End-to-end</a><a href="#settings">Settings</a></nav>
<section id="figure">
<h2>Perplexity against sparsity</h2>
<figure>
${svg.replace(/^<\?xml[^>]*>\s*/, '')}
<figcaption>${escapeHtml(c.figureNote)}</figcaption>
</figure>
</section>
<section id="methods">
<h2>Results per method</h2>
<p class="caption">${escapeHtml(METHOD_TABLES_NOTE)}</p>
${methodSections.join('\n')}
</section>
${c.tables.firing ? htmlTable(c.tables.firing, 'firing', 'h2') : ''}
${htmlTable(c.tables.timing, 'timing', 'h2')}
${htmlTable(c.tables.endToEnd, 'end-to-end', 'h2')}
${htmlTable(c.tables.settings, 'settings', 'h2')}
</main>
</body>
</html>
`;
}
