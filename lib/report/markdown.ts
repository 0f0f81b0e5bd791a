// report.md: the figure, one table per method, running time, end-to-end quality and
// the settings, as GitHub-flavoured Markdown tables.
import { modelName } from './model-name';
import { METHOD_TABLES_NOTE, type Table } from './tables';
import type { ReportContent } from './content';

function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
}

export function markdownTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`;
  const text = new Set([0, ...(t.textColumns ?? [])]);
  const align = t.header.map((_, i) => (text.has(i) ? ':---' : '---:'));
  return [line(t.header), `| ${align.join(' | ')} |`, ...t.rows.map(line)].join('\n');
}

function section(level: string, t: Table): string {
  const caption = t.caption ? `${t.caption}\n\n` : '';
  return `${level} ${t.title}\n\n${caption}${markdownTable(t)}\n`;
}

export function renderMarkdown(c: ReportContent): string {
  const parts = [
    `# Pruning sweep: ${modelName(c.results)}\n`,
    `${c.summary}\n`,
    '## Perplexity against sparsity\n',
    `![Perplexity against sparsity, one line per method](${c.figureFile})\n`,
    `${c.figureNote}\n`,
    '## Results per method\n',
    `${METHOD_TABLES_NOTE}\n`,
    ...c.tables.methods.map((t) => section('###', t)),
    ...(c.tables.firing ? [section('##', c.tables.firing)] : []),
    section('##', c.tables.timing),
    section('##', c.tables.endToEnd),
    section('##', c.tables.settings),
  ];
  return parts.join('\n');
}
