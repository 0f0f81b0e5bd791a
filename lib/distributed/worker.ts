// `shears worker`: takes cells from a distributed sweep's queue, one at a time (the
// native thread pool is the worker's parallelism), computes each exactly as a local
// sweep does (lib/sweep/cell.ts) and saves it in the sweep's folder (atomically, the
// same file a local sweep writes). The dense model and data of a sweep are prepared once
// and kept for its next cells.
//
// A worker that dies mid-cell stops renewing its job's lock: after `lockSeconds`,
// BullMQ's stalled-job check (run by the other workers) puts the job back in the queue
// and another worker computes the cell. Nothing partial exists meanwhile: a cell file
// appears whole or not at all. Stopping a worker (`signal`) lets it finish its running
// cell first and take no other; `abandon` stops it at once (the cell is retried elsewhere).
import { Job, Worker } from 'bullmq';
import type { Logger } from 'pino';

import { planBackend } from '../backend';
import { computeCell, reusable } from '../sweep/cell';
import { openSweepContext, SweepContext } from '../sweep/context';
import { checkSweepOptions } from '../sweep/options';
import { cellLabel } from '../sweep/progress';
import { SweepStore } from '../sweep/store';
import { CellJob, CellJobProgress, CellJobResult, checkCellJob, workerName } from './cell-job';
import { checkReachable, connectionOf, QueueTarget } from './connection';

export interface WorkerOptions {
  queue: QueueTarget;
  /** Seconds without a lock renewal after which a cell counts as stalled and is retried elsewhere (default 30). */
  lockSeconds?: number;
  /** Aborting it stops the worker once its running cell is saved; it takes no other. */
  signal?: AbortSignal;
  /** Aborting it stops the worker at once: the running cell is abandoned (another worker retries it). */
  abandon?: AbortSignal;
  log: Logger;
}

export interface WorkerSummary {
  worker: string;
  computed: number;
  cached: number;
}

/** The one sweep context a worker holds: replaced when a job of another sweep arrives. */
class ContextCache {
  private key?: string;
  private ctx?: Promise<SweepContext>;

  constructor(private readonly signal?: AbortSignal) {}

  get(job: CellJob): Promise<SweepContext> {
    if (this.key !== job.sweepKey || !this.ctx) {
      this.close();
      const o = { ...job.options, signal: this.signal };
      this.key = job.sweepKey;
      this.ctx = openSweepContext(o, checkSweepOptions(o), planBackend(o.backend), { statistics: true });
      // A failed preparation is not kept: the next job tries again.
      this.ctx.catch(() => {
        if (this.key === job.sweepKey) this.key = this.ctx = undefined;
      });
    }
    return this.ctx;
  }

  close(): void {
    void this.ctx?.then((c) => c.close(), () => {});
    this.key = this.ctx = undefined;
  }
}

export async function runWorker(o: WorkerOptions): Promise<WorkerSummary> {
  await checkReachable(o.queue);
  const name = workerName();
  const lockMs = Math.round((o.lockSeconds ?? 30) * 1000);
  const contexts = new ContextCache(o.abandon);
  const summary: WorkerSummary = { worker: name, computed: 0, cached: 0 };

  const processCell = async (job: Job): Promise<CellJobResult> => {
    const cellJob = checkCellJob(job.data, name);
    const { spec, options } = cellJob;
    const label = cellLabel(cellJob.index, cellJob.cells, spec);
    const store = new SweepStore(options.out);
    const saved = store.readCell(spec);
    if (reusable(saved)) {
      o.log.info({ job: job.id, cell: label }, 'cell already saved');
      summary.cached++;
      return { worker: name, outcome: 'cached', status: saved.status };
    }
    o.log.info({ job: job.id, cell: label, attempt: job.attemptsMade + 1 }, 'cell started');
    const t0 = Date.now();
    const ctx = await contexts.get(cellJob);
    const report = (detail: string) => void job.updateProgress({ worker: name, detail } satisfies CellJobProgress).catch(() => {});
    const cell = await computeCell(ctx, spec, report);
    await store.writeCell(cell);
    summary.computed++;
    o.log.info({ job: job.id, cell: label, status: cell.status, seconds: (Date.now() - t0) / 1000 }, 'cell saved');
    return { worker: name, outcome: 'computed', status: cell.status };
  };

  const worker = new Worker(o.queue.name, processCell, {
    connection: connectionOf(o.queue),
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // A cell whose worker died twice fails for good (a cell that kills its worker).
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('error', (e) => o.log.error({ err: e.message }, 'queue error'));
  worker.on('failed', (job, e) => o.log.warn({ job: job?.id, err: e.message }, 'cell failed'));

  const stopped = new Promise<void>((resolve) => {
    for (const signal of [o.signal, o.abandon]) {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    }
  });
  await worker.waitUntilReady();
  o.log.info({ worker: name, queue: o.queue.display, lock_seconds: lockMs / 1000 }, 'worker ready');
  const running = worker.run();
  try {
    await stopped;
  } finally {
    // Stopped: the running cell finishes (an abandon meanwhile aborts it, and the failed
    // attempt is retried by another worker). Abandoned: it is dropped now, and its lock
    // lapses. Either way no new cell is taken.
    await worker.close(o.abandon?.aborted ?? false);
    await running.catch(() => {});
    contexts.close();
  }
  o.log.info({ ...summary }, 'worker stopped');
  return summary;
}
