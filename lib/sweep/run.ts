// `sweep()`: every method at every sparsity level (and N:M pattern), each cell pruned
// from a pristine copy of the model and evaluated end to end against the dense model.
// Data are tokenized once and the dense model evaluated once; finished cells are cached
// in the output folder so that an interrupted sweep resumes where it stopped. With
// `queue`, the cells are computed by workers on other processes or machines
// (lib/distributed) and read back from the same folder.
import * as path from 'node:path';

import { planBackend } from '../backend';
import { parseQueueUrl } from '../distributed/connection';
import { writeReport } from '../report';
import type { DenseResult, SweepCell, SweepResults } from '../report/types';
import { cacheSettings } from './cache-settings';
import { computeCell, denseSpeed, modelParameters, reusable } from './cell';
import { openSweepContext, SweepContext } from './context';
import { CellSpec, checkSweepOptions, SweepOptions } from './options';
import { densePerplexity } from './quality';
import { reportSettings } from './settings';
import { SweepProgress, sweepProgress, SweepEvent } from './progress';
import { SweepStore } from './store';
import { secondsSince } from '../util/clock';

export type { SweepProgress };

export interface SweepRunOptions extends SweepOptions {
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  /** Called after each cell is computed and saved (not for cells reused from the cache). */
  onCell?: (cell: SweepCell) => void;
  /** Called with each warning (also kept in the report's notes): e.g. scratch of stopped runs removed. */
  onWarning?: (message: string) => void;
}

export interface SweepOutcome {
  results: SweepResults;
  /** Report files written by writeReport. */
  files: string[];
  /** Cells computed in this run, and reused from the cache. */
  computed: number;
  reused: number;
}

const since = secondsSince;

/** BullMQ loads only for a sweep on a queue: the other sweeps (and commands) do not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const coordinator = () => require('../distributed/coordinator') as typeof import('../distributed/coordinator');

export async function sweep(o: SweepRunOptions): Promise<SweepOutcome> {
  const t0 = process.hrtime.bigint();
  const progress = (p: SweepEvent) => o.onProgress?.(sweepProgress(p, since(t0)));
  const checked = checkSweepOptions(o);
  const queue = o.queue === undefined ? undefined : parseQueueUrl(o.queue);
  const backend = planBackend(o.backend);
  const store = new SweepStore(o.out);
  const warnings = store.open(cacheSettings(o), { resume: o.resume, force: o.force });
  for (const w of warnings) o.onWarning?.(w);
  o.signal?.throwIfAborted();

  progress({ stage: 'prepare' });
  const cached = checked.cells.map((c) => (o.resume ? store.readCell(c) : undefined));
  const pending = cached.some((c) => !reusable(c));
  // Cells on a queue gather their statistics on the workers: none here.
  const ctx = await openSweepContext(o, checked, backend, { statistics: pending && !queue, onStage: (stage) => progress({ stage }) });
  try {
    const { data, denseModel } = ctx;
    data.notes.push(...warnings);
    progress({ stage: 'dense' });
    let dense = o.resume ? store.readDense() : undefined;
    if (!dense || typeof dense.perplexity !== 'number') {
      const s = process.hrtime.bigint();
      const ppl = await densePerplexity(ctx.denseFm, data);
      dense = { perplexity: ppl, seconds: since(s), parameters: modelParameters(denseModel) };
      await store.writeDense(dense);
    }
    // Speed is measured in this run, beside the cells it computes (never read from a cache).
    if (o.speed) dense = { ...dense, ...(await denseSpeed(ctx.denseFm, data, denseModel)) };
    const run = queue
      ? await coordinator().runCellsOnQueue({ queue, options: o, store, cells: checked.cells, cached, signal: o.signal, onProgress: progress, onCell: o.onCell })
      : await runCellsHere(ctx, store, checked.cells, cached, progress, o.onCell);
    if (queue) data.notes.push(`cells computed by ${run.workers.length} worker(s) of ${queue.display}: ${run.workers.join(', ')}`);

    const results: SweepResults = {
      model: path.resolve(o.model),
      dense: dense as DenseResult,
      settings: { ...reportSettings(o, checked, denseModel, data, run), backend },
      cells: run.cells,
    };
    progress({ stage: 'report' });
    const { files } = await writeReport(results, o.out);
    progress({ stage: 'done' });
    return { results, files, computed: run.computed, reused: run.reused };
  } finally {
    ctx.close();
  }
}

/** The local sweep's cells, in order: reused from the cache or computed here, each saved as it finishes. */
async function runCellsHere(
  ctx: SweepContext,
  store: SweepStore,
  specs: CellSpec[],
  cached: (SweepCell | undefined)[],
  progress: (p: SweepEvent) => void,
  onCell?: (cell: SweepCell) => void,
): Promise<{ cells: SweepCell[]; computed: number; reused: number; workers: string[] }> {
  const cells: SweepCell[] = [];
  let computed = 0;
  let reused = 0;
  for (let i = 0; i < specs.length; i++) {
    ctx.o.signal?.throwIfAborted();
    const spec = specs[i];
    const at = { stage: 'cell' as const, cell: i + 1, cells: specs.length, spec };
    const hit = cached[i];
    if (reusable(hit)) {
      cells.push(hit);
      reused++;
      progress({ ...at, detail: 'cached' });
      continue;
    }
    progress(at);
    const cell = await computeCell(ctx, spec, (detail) => progress({ ...at, detail }));
    await store.writeCell(cell);
    cells.push(cell);
    computed++;
    onCell?.(cell);
  }
  return { cells, computed, reused, workers: [] };
}
