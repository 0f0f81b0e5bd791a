// `paper()`: the seed's eight tables for one model, from one call. Table 5's formula
// search runs first (its winner is formula's --score in Tables 4, 7 and 8), then the
// sweeps (each cached per cell under DIR/sweeps/<name>: --resume recomputes only what is
// missing), then one prune process per method for Table 7, then paper.md/.html/.json,
// each written atomically.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { shearsVersion } from '../prune/report';
import { writeFileAtomic } from '../report/atomic';
import type { SweepResults } from '../report/types';
import { sweep } from '../sweep/run';
import { isAbort } from '../util/abortable';
import { secondsSince } from '../util/clock';
import { runFormulaSearch } from './formula-search';
import type { FormulaSearchSummary } from './formula-table';
import { checkPaperOptions, maskingMethods, PaperOptions, plannedSweeps, unitMethods } from './plan';
import { PaperFigure, paperHtml, paperJson, paperMarkdown } from './render';
import { paperTables, PaperTable } from './tables';
import { timingRuns, TimingCase } from './timing-runs';

export type { PaperOptions };

export interface PaperOutcome {
  tables: PaperTable[];
  /** paper.md, paper.html, paper.json (absolute paths). */
  files: string[];
  seconds: number;
}

/** Which sweep each table comes from (said in the progress lines). */
const SWEEP_TABLES: Record<string, string> = {
  levels: 'tables 1-2',
  bias: 'table 3',
  strategies: 'tables 4a-4b, 8',
  structured: 'tables 4c, 8',
  'structured-layers': 'tables 4c, 8',
  'opt-sweep': 'table 6',
};


export async function paper(o: PaperOptions): Promise<PaperOutcome> {
  const t0 = process.hrtime.bigint();
  const s = checkPaperOptions(o);
  const out = path.resolve(o.out);
  fs.mkdirSync(out, { recursive: true });
  if (o.force && !o.resume)
    for (const f of ['runs', 'formula-search.json', 'paper.json', 'paper.md', 'paper.html']) fs.rmSync(path.join(out, f), { recursive: true, force: true });
  const progress = (label: string) => o.onProgress?.(label);

  // Table 5 first: its winner is formula's score everywhere else.
  let search: FormulaSearchSummary | undefined;
  let searchMissing: string | undefined;
  try {
    const r = await runFormulaSearch(o, s, path.join(out, 'formula-search.json'), progress);
    search = r.summary;
    searchMissing = r.missing;
  } catch (e) {
    if (isAbort(e, o.signal)) throw e;
    searchMissing = `the search failed: ${(e as Error).message}`;
  }
  const winner = search?.best[0]?.formula;

  const sweeps: Record<string, SweepResults | undefined> = {};
  const failed: Record<string, string> = {};
  for (const p of plannedSweeps(o, s, winner)) {
    o.signal?.throwIfAborted();
    const tables = SWEEP_TABLES[p.name] ?? p.name;
    try {
      const outcome = await sweep({
        ...p.options,
        out: path.join(out, 'sweeps', p.name),
        queue: o.queue,
        resume: o.resume,
        force: o.force,
        signal: o.signal,
        onWarning: o.onWarning,
        onProgress: (e) => (e.stage === 'cell' || e.stage === 'dense' ? progress(`${tables}: ${e.label}`) : undefined),
      });
      sweeps[p.name] = outcome.results;
    } catch (e) {
      if (isAbort(e, o.signal)) throw e;
      failed[p.name] = `the ${p.name} sweep failed: ${(e as Error).message}`;
      o.onWarning?.(`${tables}: the ${p.name} sweep failed: ${(e as Error).message}`);
    }
  }

  const cases: TimingCase[] = [
    ...maskingMethods(o)
      .filter((m) => m.name !== 'formula' || winner !== undefined)
      .map((method) => ({ method })),
    ...unitMethods(o).channels.filter((m) => m.kind === 'structured').map((method) => ({ method, structure: 'channels' as const })),
    ...unitMethods(o).layersOnly.filter((m) => m.kind === 'structured').map((method) => ({ method, structure: 'layers' as const })),
  ];
  const timing = await timingRuns(cases, o, s, path.join(out, 'runs'), winner, progress);

  const tables = paperTables({ sweeps, search, searchMissing, timing, optModelNote: s.optModelNote, failed });
  const figures: PaperFigure[] = [];
  for (const [name, caption] of [
    ['levels', 'Tables 1 and 2: perplexity against sparsity (Wanda and magnitude).'],
    ['opt-sweep', `Table 6: perplexity against sparsity on ${s.optModelNote}.`],
  ] as const) {
    const file = path.join(out, 'sweeps', name, 'perplexity.svg');
    if (sweeps[name] && fs.existsSync(file)) figures.push({ caption, file: path.relative(out, file), svg: fs.readFileSync(file, 'utf8') });
  }
  const seconds = secondsSince(t0);
  const doc = {
    title: `The seed's tables for ${path.basename(path.resolve(o.model))}`,
    summary: [
      `Model: ${path.resolve(o.model)}. Calibration: ${path.resolve(o.calib)} (${s.calibSamples} windows${s.seqLen ? ` of ${s.seqLen} tokens` : ''}, seed ${s.seed}). ` +
        `Evaluation: ${path.resolve(o.eval)}${s.maxWindows ? ` (first ${s.maxWindows} windows)` : ''}; held-out queries: ${o.queries ? path.resolve(o.queries) : 'the evaluation windows'}.`,
      `Levels of Tables 1-3 and 6: ${s.levels.map((l) => `${Math.round(l * 1000) / 10}%`).join(', ')}${o.quick ? ' (--quick)' : ''}. ` +
        `Computed by shears ${shearsVersion()} in ${seconds.toFixed(0)} s on this machine (cells reused from an earlier run keep the times of that run). ` +
        `Every cell is measured; NA says why a value does not exist.`,
      ...(Object.keys(failed).length ? [`Sweeps that failed: ${Object.values(failed).join('; ')}.`] : []),
    ],
    tables,
    figures,
  };
  const files: string[] = [];
  const write = async (name: string, data: string) => {
    const file = path.join(out, name);
    await writeFileAtomic(file, data);
    files.push(file);
  };
  await write('paper.md', paperMarkdown(doc));
  await write('paper.html', paperHtml(doc));
  await write('paper.json', paperJson(doc, { settings: { ...s, quick: o.quick === true }, formula_search: search ?? null, timing_runs: timing }));
  return { tables, files, seconds };
}

