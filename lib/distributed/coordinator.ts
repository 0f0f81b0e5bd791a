// `shears sweep --queue`: the sweep's cells become BullMQ jobs, one per cell not yet in
// the folder, computed by `shears worker` processes; this side waits, relays the
// workers' progress, and reads every cell back from the folder, so that results.json
// and the report are made exactly as a local sweep makes them.
//
// A job that fails on every attempt (a worker that cannot see the files, a cell that
// kills its worker) becomes an NA cell marked as an error, with the reason: the sweep
// still completes, and --resume retries it. Stopping the sweep takes its waiting jobs
// off the queue; cells already running finish on their workers and are kept for --resume.
import { Job, Queue, QueueEvents } from 'bullmq';

import { QueueError } from '../errors';
import type { SweepCell } from '../report/types';
import { na, reusable } from '../sweep/cell';
import type { CellSpec, SweepOptions } from '../sweep/options';
import type { SweepEvent } from '../sweep/progress';
import { SweepStore } from '../sweep/store';
import { untilAborted } from '../util/abortable';
import { CELL_JOB_NAME, CELL_JOB_VERSION, CellJob, CellJobProgress, CellJobResult, cellJobId, cellJobOptions, sweepKey } from './cell-job';
import { checkReachable, connectionOf, QueueTarget } from './connection';

/** Attempts of a cell job before it counts as failed (a stalled job is put back without spending one). */
const ATTEMPTS = 3;

export interface QueueRun {
  queue: QueueTarget;
  options: SweepOptions;
  store: SweepStore;
  cells: CellSpec[];
  /** What the folder already holds for each cell (with --resume). */
  cached: (SweepCell | undefined)[];
  signal?: AbortSignal;
  onProgress: (e: SweepEvent) => void;
  onCell?: (cell: SweepCell) => void;
}

export interface QueueOutcome {
  cells: SweepCell[];
  computed: number;
  reused: number;
  /** The workers that computed this run's cells (host:pid). */
  workers: string[];
}

/** Adds the cell's job, or joins the one already queued or running under its id (another coordinator's, or this sweep's before a restart). */
async function enqueue(queue: Queue, id: string, job: CellJob): Promise<Job> {
  const existing = await queue.getJob(id);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return existing;
    await existing.remove(); // finished before: its cell file is gone (--force) or failed; compute again
  }
  // Kept until this sweep reads them (it removes them then); a day (a week if failed) bounds
  // what a coordinator that was killed for good leaves in Redis.
  return queue.add(CELL_JOB_NAME, job, { jobId: id, attempts: ATTEMPTS, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
}

export async function runCellsOnQueue(r: QueueRun): Promise<QueueOutcome> {
  const pending = r.cells.map((_, i) => i).filter((i) => !reusable(r.cached[i]));
  if (pending.length === 0) return { cells: r.cached as SweepCell[], computed: 0, reused: r.cells.length, workers: [] };
  await checkReachable(r.queue);
  const connection = connectionOf(r.queue);
  const queue = new Queue(r.queue.name, { connection });
  // Every job waited on adds a listener to the queue (BullMQ's waitUntilFinished): one per pending cell.
  queue.setMaxListeners(pending.length + 10);
  const events = new QueueEvents(r.queue.name, { connection });
  const key = sweepKey(r.options);
  const options = cellJobOptions(r.options);
  const byId = new Map(pending.map((i) => [cellJobId(key, r.store, r.cells[i]), i]));
  const workers = new Set<string>();
  const cells: (SweepCell | undefined)[] = r.cells.map((_, i) => (reusable(r.cached[i]) ? r.cached[i] : undefined));
  let finished = r.cells.length - pending.length;
  let computed = 0;
  const tell = (i: number, detail?: string) =>
    r.onProgress({ stage: 'cell', cell: i + 1, cells: r.cells.length, spec: r.cells[i], finished, ...(detail ? { detail } : {}) });
  const jobs: Job[] = [];
  try {
    await events.waitUntilReady();
    events.on('progress', ({ jobId, data }) => {
      const i = byId.get(jobId);
      const p = data as Partial<CellJobProgress>;
      if (i !== undefined && typeof p?.detail === 'string') tell(i, `${p.worker}: ${p.detail}`);
    });
    events.on('active', ({ jobId }) => {
      const i = byId.get(jobId);
      if (i !== undefined) tell(i, 'started');
    });
    for (const i of pending) {
      const job: CellJob = { version: CELL_JOB_VERSION, options, spec: r.cells[i], index: i + 1, cells: r.cells.length, sweepKey: key };
      jobs.push(await enqueue(queue, cellJobId(key, r.store, r.cells[i]), job));
    }
    r.onProgress({ stage: 'cell', cells: r.cells.length, finished, detail: `${pending.length} cells queued on ${r.queue.display}` });

    const waits = jobs.map(async (job, n) => {
      const i = pending[n];
      let cell: SweepCell | undefined;
      try {
        const result = (await job.waitUntilFinished(events)) as CellJobResult;
        workers.add(result.worker);
        const saved = r.store.readCell(r.cells[i]);
        cell =
          saved ??
          na(r.cells[i], `worker ${result.worker} reported the cell saved, but ${r.store.cellFile(r.cells[i])} is not there: do the workers and this machine share the output folder?`, { error: true, error_name: 'QueueError' });
        if (result.outcome === 'computed' || !saved) computed++;
      } catch (e) {
        if (r.signal?.aborted) return;
        const why = (e as Error).message;
        cell = na(r.cells[i], `failed on the workers (${ATTEMPTS} attempts): ${why}`, { error: true, error_name: 'QueueError' });
        await r.store.writeCell(cell); // so that --resume retries it
        computed++;
      }
      cells[i] = cell;
      finished++;
      tell(i, cell.status === 'ok' ? 'done' : `NA: ${cell.reason}`);
      r.onCell?.(cell);
    });
    await untilAborted(Promise.all(waits), r.signal, () => {});
  } catch (e) {
    if (r.signal?.aborted) await withdraw(jobs);
    throw e;
  } finally {
    await Promise.allSettled(jobs.map(async (j) => ((await j.isCompleted()) || (await j.isFailed())) && j.remove()));
    await events.close();
    await queue.close();
  }
  const missing = cells.findIndex((c) => c === undefined);
  if (missing >= 0) throw new QueueError(`cell ${missing + 1} of the sweep in ${r.options.out} was not computed`);
  return { cells: cells as SweepCell[], computed, reused: r.cells.length - computed, workers: [...workers].sort() };
}

/** A stopped sweep takes its waiting cells off the queue; running ones finish on their workers (kept for --resume). */
async function withdraw(jobs: Job[]): Promise<void> {
  await Promise.allSettled(jobs.map(async (j) => (await j.isWaiting()) && j.remove()));
}
