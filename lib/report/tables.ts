// The report's tables as plain text grids, built once and rendered by both the
// Markdown and the HTML writers so the two always show the same numbers.
import { cellValue, fmt, levelLabel, num, settingText } from './format';
import { findCell, methodsOf, phasesOf, referenceLevel, rowsOf } from './select';
import type { SweepCell, SweepResults } from './types';

export interface Table {
  title: string;
  /** One or two sentences saying what the numbers are ('' for none). */
  caption: string;
  header: string[];
  rows: string[][];
  /** Columns holding text rather than numbers (left-aligned); the first always is. */
  textColumns?: number[];
}

const pctLabel = (level: number) => `${Number((level * 100).toFixed(1))}%`;
const totalSeconds = (c: SweepCell) => c.timings?.total;

/** One table per method, in the shape of a paper's sparsity sweep table. */
export function methodTable(r: SweepResults, method: string): Table {
  const d = r.dense;
  const rows: string[][] = [
    [
      '0 (dense)',
      num(d.perplexity, fmt.perplexity),
      // Nothing of the dense model is pruned: its achieved sparsity is 0 by definition.
      d.sparsity === undefined ? '0 (not pruned)' : num(d.sparsity, fmt.fraction),
      '0 (reference)',
      '100.0% (reference)',
      num(d.seconds, fmt.seconds, 'not pruned'),
    ],
  ];
  for (const c of rowsOf(r, method)) {
    rows.push([
      levelLabel(c),
      cellValue(c, (x) => x.perplexity, fmt.perplexity),
      cellValue(c, (x) => x.sparsity, fmt.fraction),
      cellValue(c, (x) => x.kl, fmt.kl),
      cellValue(c, (x) => x.top1_agreement, fmt.agreement),
      cellValue(c, totalSeconds, fmt.seconds),
    ]);
  }
  return {
    title: method,
    caption: '',
    header: ['Level', 'Perplexity', 'Sparsity (achieved)', 'KL (nats)', 'Top-1 agreement', 'Seconds'],
    rows,
  };
}

/** What the columns of every method table mean (said once, above them). */
export const METHOD_TABLES_NOTE =
  'Level: requested sparsity (N:M rows: the pattern and its own sparsity); the first row is the dense model. ' +
  'Sparsity: achieved fraction of zero weights in the pruned layers. ' +
  'KL: mean KL divergence of the pruned from the dense next-token distribution (nats). ' +
  'Top-1 agreement: fraction of positions where both predict the same next token. ' +
  'Seconds: total for the cell.';

/** One row per method: seconds per phase at the reference level, and over the sweep. */
export function timingTable(r: SweepResults): Table {
  const ref = referenceLevel(r);
  const phases = phasesOf(r);
  const at = ref === null ? 'no unstructured level in sweep' : `${pctLabel(ref)} unstructured`;
  const rows = methodsOf(r).map((m) => {
    const c = ref === null ? undefined : findCell(r, m, 'unstructured', ref);
    const absent = ref === null ? 'no unstructured level in sweep' : 'not in sweep';
    const totals = r.cells
      .filter((x) => x.method === m && x.status === 'ok' && typeof x.timings?.total === 'number')
      .map((x) => x.timings!.total);
    const sum = totals.length ? totals.reduce((a, b) => a + b, 0) : null;
    return [
      m,
      cellValue(c, totalSeconds, fmt.seconds, absent),
      ...phases.map((p) =>
        c && c.status === 'ok' && c.timings && !(p in c.timings)
          ? 'NA (phase not run)'
          : cellValue(c, (x) => x.timings?.[p], fmt.seconds, absent),
      ),
      cellValue(c, (x) => x.peak_rss_bytes, fmt.bytes, absent),
      num(sum, fmt.seconds, 'no timed cells'),
    ];
  });
  return {
    title: 'Running time',
    caption:
      (ref === null
        ? 'The sweep has no unstructured level, so there is no reference cell to time. '
        : `Seconds for each method's ${at} cell: total and per phase, with the peak resident memory of that cell. `) +
      'The last column sums the total seconds of every cell of the method that ran (all levels and patterns).',
    header: [
      'Method',
      `Total s (${at})`,
      ...phases.map((p) => `${p} s`),
      'Peak RSS',
      'Sum over sweep (s)',
    ],
    rows,
  };
}

/** One row per method: end-to-end quality at the reference level and at 2:4. */
export function endToEndTable(r: SweepResults): Table {
  const ref = referenceLevel(r);
  const has24 = r.cells.some((c) => c.pattern === '2:4');
  const points: { label: string; find: (m: string) => SweepCell | undefined }[] = [];
  if (ref !== null) {
    points.push({ label: pctLabel(ref), find: (m) => findCell(r, m, 'unstructured', ref) });
  }
  if (has24) points.push({ label: '2:4', find: (m) => findCell(r, m, '2:4') });
  const header = ['Method'];
  for (const p of points) header.push(`Perplexity @${p.label}`, `KL @${p.label}`, `Top-1 @${p.label}`);
  const dense = ['dense (reference)'];
  for (let i = 0; i < points.length; i++) {
    dense.push(num(r.dense.perplexity, fmt.perplexity), '0 (reference)', '100.0% (reference)');
  }
  const rows = [dense];
  for (const m of methodsOf(r)) {
    const row = [m];
    for (const p of points) {
      const c = p.find(m);
      row.push(
        cellValue(c, (x) => x.perplexity, fmt.perplexity),
        cellValue(c, (x) => x.kl, fmt.kl),
        cellValue(c, (x) => x.top1_agreement, fmt.agreement),
      );
    }
    rows.push(row);
  }
  const where = points.map((p) => (p.label === '2:4' ? '2:4' : `${p.label} unstructured`)).join(' and ');
  return {
    title: 'End-to-end quality',
    caption: points.length
      ? `Perplexity, mean KL from the dense model (nats) and top-1 agreement with it, at ${where} sparsity.`
      : 'The sweep has neither an unstructured level nor a 2:4 cell to compare at.',
    header,
    rows,
  };
}

/** Model, dense perplexity and the free-form settings, one row each. */
export function settingsTable(r: SweepResults): Table {
  const rows: string[][] = [
    ['model', settingText(r.model)],
    ['dense perplexity', num(r.dense.perplexity, fmt.perplexity)],
  ];
  for (const [k, v] of Object.entries(r.settings ?? {})) rows.push([k, settingText(v)]);
  return {
    title: 'Settings',
    caption: 'How the sweep was run.',
    header: ['Setting', 'Value'],
    rows,
    textColumns: [0, 1],
  };
}

/**
 * The bias method's firing probabilities (measured on the dense model, so the same at every
 * level): per method, how many MLP neurons fire with probability in each tenth of [0, 1].
 * Undefined when no cell recorded them.
 */
export function firingTable(r: SweepResults): Table | undefined {
  const rows: string[][] = [];
  for (const m of methodsOf(r)) {
    const h = r.cells.find((c) => c.method === m && Array.isArray(c.firing_probability_histogram))?.firing_probability_histogram as number[] | undefined;
    if (h) rows.push([m, ...h.map(String), String(h.reduce((a, b) => a + b, 0))]);
  }
  if (rows.length === 0) return undefined;
  const header = ['Method', ...Array.from({ length: 10 }, (_, k) => `[${k / 10}, ${k === 9 ? '1]' : `${(k + 1) / 10})`}`), 'Neurons'];
  return {
    title: 'Firing probability of the MLP neurons',
    caption:
      'Neurons of all blocks by the probability that they fire on the calibration tokens (activation above the threshold), measured on the dense model; the bias method removes the least likely to matter first.',
    header,
    rows,
  };
}

/** Every table of the report, in reading order. */
export function reportTables(r: SweepResults): {
  methods: Table[];
  firing?: Table;
  timing: Table;
  endToEnd: Table;
  settings: Table;
} {
  return {
    methods: methodsOf(r).map((m) => methodTable(r, m)),
    firing: firingTable(r),
    timing: timingTable(r),
    endToEnd: endToEndTable(r),
    settings: settingsTable(r),
  };
}
