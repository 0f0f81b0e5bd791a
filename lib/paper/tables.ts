// The seed's eight tables from what `shears paper` measured: its sweeps' cells, the
// formula search and the running-time runs. Every value is a measured number or
// "NA (reason)" (lib/report/format.ts), never an empty cell.
import { cellValue, fmt, levelLabel, num } from '../report/format';
import { findCell, methodsOf, rowsOf } from '../report/select';
import { methodTable, type Table } from '../report/tables';
import type { SweepCell, SweepResults } from '../report/types';
import type { FormulaSearchSummary } from './formula-table';
import type { TimingRun } from './timing-runs';

export interface PaperTable extends Table {
  /** "1" ... "8", "4a": the seed's numbering. */
  id: string;
}

export interface PaperInputs {
  sweeps: Record<string, SweepResults | undefined>;
  search?: FormulaSearchSummary;
  /** Why Table 5 has no search (e.g. formula is not implemented). */
  searchMissing?: string;
  timing: TimingRun[];
  optModelNote: string;
  /** Sweeps that failed, by name, with the reason. */
  failed: Record<string, string>;
}

const count = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}K` : String(x));
const perSecond = (x: number) => x.toFixed(x < 100 ? 1 : 0);

/** tokens/s of a cell, with its ratio to the dense model's measured alternately with it (else the sweep's dense row). */
function speedText(c: SweepCell | undefined, dense: SweepResults['dense'], key: 'prefill_tokens_per_second' | 'decode_tokens_per_second'): string {
  const v = cellValue(c, (x) => x[key] as number | undefined, perSecond);
  const d = (c?.[`dense_${key}`] ?? dense[key]) as number | undefined;
  const x = c?.[key] as number | undefined;
  return typeof x === 'number' && typeof d === 'number' && d > 0 ? `${v} (${(x / d).toFixed(2)}x)` : v;
}

function numbered(id: string, t: Table): PaperTable {
  return { ...t, id, title: `Table ${id}: ${t.title}` };
}

function missingSweep(id: string, title: string, why: string): PaperTable {
  return { id, title: `Table ${id}: ${title}`, caption: `NA (${why})`, header: ['Table'], rows: [[`NA (${why})`]] };
}

/** Tables 1-3: one method across the levels (lib/report's per-method table, dense row first). */
function levelsTable(id: string, r: SweepResults | undefined, method: string, title: string, caption: string, why: string): PaperTable {
  if (!r) return missingSweep(id, title, why);
  return numbered(id, { ...methodTable(r, method), title, caption });
}

const QUALITY_NOTE =
  'Perplexity on --eval; KL(dense || pruned) in nats and top-1 agreement on the held-out queries (--queries, else the evaluation windows); ' +
  "tokens/s in shears' forward pass on this machine (prefill of 128 tokens, decode of 16), the fastest of 5 runs alternating with the dense model's, ratio to it in brackets.";

/** Table 4 (a-c): every strategy at one setting. */
function strategiesTable(id: string, title: string, r: SweepResults | undefined, pattern: string, level: number, structured: boolean, why: string): PaperTable {
  if (!r) return missingSweep(id, title, why);
  const rows: string[][] = [
    [
      'dense',
      num(r.dense.perplexity, fmt.perplexity),
      '0 (reference)',
      '100.0% (reference)',
      num(r.dense.parameters as number | undefined, count),
      num(r.dense.prefill_tokens_per_second as number | undefined, perSecond, 'not measured in this run'),
    ],
  ];
  for (const m of methodsOf(r)) {
    const c = findCell(r, m, pattern, level);
    if (!c) continue;
    rows.push([
      structured && c.structure ? `${m} (${String(c.structure)})` : m,
      cellValue(c, (x) => x.perplexity, fmt.perplexity),
      cellValue(c, (x) => x.kl, fmt.kl),
      cellValue(c, (x) => x.top1_agreement, fmt.agreement),
      cellValue(c, (x) => (structured ? (x.parameters as number) : (x.parameters_nonzero as number)), count),
      speedText(c, r.dense, 'prefill_tokens_per_second'),
    ]);
  }
  return {
    id,
    title: `Table ${id}: ${title}`,
    caption:
      `${QUALITY_NOTE} ${structured ? 'Parameters: all of the narrowed model.' : 'Parameters: those left nonzero (masked weights stay in the file, so a dense engine runs as fast as before).'}`,
    header: ['Method', 'Perplexity', 'KL (nats)', 'Top-1 agreement', structured ? 'Parameters' : 'Nonzero parameters', 'Prefill tokens/s'],
    rows,
  };
}

/** Table 6: the OPT/GPT-2 sweep, a column per method as the seed's table. */
function optTable(r: SweepResults | undefined, note: string, why: string): PaperTable {
  const title = 'perplexity against sparsity on an OPT-family model';
  if (!r) return missingSweep('6', title, why);
  const methods = methodsOf(r);
  const levels = rowsOf(r, methods[0] ?? '');
  const rows = [['0 (dense)', ...methods.map(() => num(r.dense.perplexity, fmt.perplexity))]];
  for (const l of levels) rows.push([levelLabel(l), ...methods.map((m) => cellValue(findCell(r, m, l.pattern, l.level), (x) => x.perplexity, fmt.perplexity))]);
  return { id: '6', title: `Table 6: ${title}`, caption: `Model: ${note}. Perplexity on --eval, tokenized by that model's tokenizer.`, header: ['Level', ...methods], rows };
}

/** Table 7: seconds per phase and peak memory of one `shears prune` process per method. */
function timingTable(runs: TimingRun[]): PaperTable {
  const s = (t: Record<string, number>, ...keys: string[]) => {
    const v = keys.reduce((a, k) => a + (t[k] ?? 0), 0);
    return keys.some((k) => t[k] !== undefined) ? fmt.seconds(v) : '0';
  };
  const rows = runs.map((r) => {
    if (r.error) return [r.label, `NA (${r.error})`, ...Array(7).fill('NA (as left)')];
    const t = r.report!.timings;
    return [
      r.label,
      s(t, 'calibration'),
      s(t, 'prune.statistics', 'prune.gradients'),
      s(t, 'prune.pruning', 'prune.scoring', 'prune.surgery'),
      s(t, 'prune.forward'),
      s(t, 'allocation'),
      s(t, 'recovery'),
      fmt.seconds(t.total),
      fmt.bytes(r.report!.peak_rss_bytes),
    ];
  });
  return {
    id: '7',
    title: 'Table 7: running time per algorithm',
    caption:
      "One `shears prune` process per method (50% unstructured; random-pattern 2:4; structured methods 20% of the block parameters), so each peak resident memory (maxRSS: node itself and the model file's pages it read included) is that method's alone. " +
      'Calibration: drawing the windows (query-aware: generating its environment); statistics: the calibration forward statistics (and gradients); ' +
      'scoring + update: scores, selection, masks, weight updates (SparseGPT, k-means, learned scores) or unit surgery; forward: recomputing the pruned blocks; ' +
      'allocation: choosing per-block sparsities (owl, rl-allocation); recovery: training after pruning (ewc, query-aware). Total includes loading and writing.',
    header: ['Method', 'Calibration s', 'Statistics s', 'Scoring + update s', 'Forward s', 'Allocation s', 'Recovery s', 'Total s', 'Peak RSS'],
    rows,
  };
}

/** Table 8: end to end on the held-out queries, at 50%, 2:4 and 20% structured. */
function endToEndTable(sweeps: PaperInputs['sweeps']): PaperTable {
  const rows: string[][] = [];
  const add = (r: SweepResults | undefined, pattern: string, level: number, label: (c: SweepCell) => string) => {
    if (!r) return;
    for (const m of methodsOf(r)) {
      const c = findCell(r, m, pattern, level);
      if (!c) continue;
      rows.push([
        label(c),
        cellValue(c, (x) => x.perplexity, fmt.perplexity),
        cellValue(c, (x) => x.kl, fmt.kl),
        cellValue(c, (x) => x.top1_agreement, fmt.agreement),
        speedText(c, r.dense, 'prefill_tokens_per_second'),
        speedText(c, r.dense, 'decode_tokens_per_second'),
      ]);
    }
  };
  const dense = sweeps.strategies?.dense;
  if (dense)
    rows.push([
      'dense',
      num(dense.perplexity, fmt.perplexity),
      '0 (reference)',
      '100.0% (reference)',
      num(dense.prefill_tokens_per_second as number | undefined, perSecond),
      num(dense.decode_tokens_per_second as number | undefined, perSecond),
    ]);
  add(sweeps.strategies, 'unstructured', 0.5, (c) => `${c.method} 50%`);
  add(sweeps.strategies, '2:4', 0.5, (c) => `${c.method} 2:4`);
  for (const k of ['structured', 'structured-layers']) add(sweeps[k], 'unstructured', 0.2, (c) => `${c.method} 20% ${String(c.structure ?? '')}`.trim());
  return {
    id: '8',
    title: 'Table 8: end-to-end evaluation on held-out queries',
    caption: QUALITY_NOTE,
    header: ['Pruned model', 'Perplexity', 'KL (nats)', 'Top-1 agreement', 'Prefill tokens/s', 'Decode tokens/s'],
    rows,
  };
}

/** Table 5: the best searched formulas, the baselines, and the failures. */
function formulaTable(search: FormulaSearchSummary | undefined, missing: string | undefined): PaperTable {
  const title = 'the best searched score formula';
  if (!search) return missingSweep('5', title, missing ?? 'the search did not run');
  const rows = [
    ...search.best.map((b, i) => [`#${i + 1}`, b.formula, num(b.kl, fmt.kl)]),
    ...(search.discovered ? [['best made by the search', search.discovered.formula, num(search.discovered.kl, fmt.kl)]] : []),
    ...search.baselines.map((b) => [`baseline ${b.name}`, b.formula, num(b.kl, fmt.kl)]),
  ];
  return {
    id: '5',
    title: `Table 5: ${title}`,
    caption:
      `Genetic programming over shears' formula grammar, starting from known formulas (magnitude, Wanda, RIA, OBS, gradient, Fisher...) and random trees: ${search.evaluated} formulas evaluated (budget ${search.budget}, seed ${search.seed}) at ${(search.sparsity * 100).toFixed(0)}% sparsity; ` +
      `fitness: KL(dense || pruned) on the calibration windows. Failures: ${search.failures}${search.failureExamples.length ? ` (e.g. ${search.failureExamples.join('; ')})` : ''}. ` +
      `${search.verdict}`,
    header: ['Rank', 'Formula', 'Calibration KL (nats)'],
    rows,
    textColumns: [1],
  };
}

/** The eight tables in the seed's order (Table 4 in three parts). */
export function paperTables(p: PaperInputs): PaperTable[] {
  const levelsCaption = 'Perplexity on --eval against unstructured sparsity (per output row for Wanda, per matrix for magnitude, as their reference code); the first row is the dense model.';
  const why = (...names: string[]) => names.map((n) => p.failed[n]).find((x) => x !== undefined) ?? 'no method of this kind was covered (--methods)';
  return [
    levelsTable('1', p.sweeps.levels, 'wanda', 'Wanda across sparsity levels', levelsCaption, why('levels')),
    levelsTable('2', p.sweeps.levels, 'magnitude', 'magnitude across sparsity levels', levelsCaption, why('levels')),
    levelsTable('3', p.sweeps.bias, 'bias', 'bias-based pruning across levels', 'MLP neurons removed by their firing probability, as a fraction of the block parameters; NA with the reason where the model has no biases feeding ReLU/GELU.', why('bias')),
    strategiesTable('4a', 'every strategy at 50% unstructured sparsity', p.sweeps.strategies, 'unstructured', 0.5, false, why('strategies')),
    strategiesTable('4b', 'every strategy at 2:4', p.sweeps.strategies, '2:4', 0.5, false, why('strategies')),
    strategiesTable('4c', 'every structured strategy at 20% of the block parameters', mergeStructured(p.sweeps), 'unstructured', 0.2, true, why('structured', 'structured-layers')),
    formulaTable(p.search, p.searchMissing),
    optTable(p.sweeps['opt-sweep'], p.optModelNote, why('opt-sweep')),
    timingTable(p.timing),
    endToEndTable(p.sweeps),
  ];
}

/** The structured sweeps (channels, and blocks for layer-only methods) as one set of cells. */
function mergeStructured(sweeps: PaperInputs['sweeps']): SweepResults | undefined {
  const a = sweeps.structured;
  const b = sweeps['structured-layers'];
  if (!a || !b) return a ?? b;
  return { ...a, cells: [...a.cells, ...b.cells] };
}
