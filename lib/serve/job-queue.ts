// The server's jobs: submitted, queued, run by the library (./run-job.ts) at most
// `concurrency` at a time and never on a request's path, cancelled through their
// AbortSignal, resumed, and persisted (./job-store.ts) at every change of state.
import { randomBytes } from 'node:crypto';

import type { Logger } from 'pino';

import { ShearsError } from '../errors';
import { JobEvents } from './job-events';
import { JobKind, readJobOptions } from './job-options';
import { FINAL_STATES, JobRecord, JobState, JobStore } from './job-store';
import { Roots } from './roots';
import { runJob } from './run-job';

/** A request the queue cannot take now (full, or in conflict with a job); `status` is the HTTP status. */
export class JobRefusedError extends ShearsError {
  constructor(
    message: string,
    code: string,
    readonly status: number,
  ) {
    super(message, code);
  }
}

/** Why a running job was stopped: the client cancelled it, or the server is stopping. */
class JobStop extends ShearsError {
  constructor(readonly state: 'cancelled' | 'interrupted') {
    super(state === 'cancelled' ? 'cancelled by request' : 'interrupted: the server stopped', state === 'cancelled' ? 'E_CANCELLED' : 'E_INTERRUPTED');
  }
}

export interface QueueOptions {
  store: JobStore;
  roots: Roots;
  log: Logger;
  /** Jobs run at once (default 1: one job per native worker pool). */
  concurrency: number;
  /** Jobs waiting to run beyond which a submission is refused (429). */
  maxQueued: number;
}

interface Job {
  record: JobRecord;
  events: JobEvents;
  /** The library options, read and checked at submission (or resume). */
  options?: Record<string, unknown>;
  controller?: AbortController;
  /** Settles when the run in progress has ended (its cleanup included). */
  running?: Promise<void>;
}

const RESUMABLE: readonly JobState[] = ['interrupted', 'cancelled', 'failed'];
const now = () => new Date().toISOString();
const errorOf = (e: unknown) => {
  const err = e as Error & { code?: unknown };
  return { name: err?.name ?? 'Error', ...(typeof err?.code === 'string' ? { code: err.code } : {}), message: err?.message ?? String(e) };
};

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private active = 0;
  private closing = false;

  constructor(private readonly o: QueueOptions) {
    const { records, skipped } = o.store.load();
    for (const s of skipped) o.log.warn({ file: s }, 'skipped an unreadable job record');
    for (const record of records) {
      const job: Job = { record, events: new JobEvents() };
      this.jobs.set(record.id, job);
      if (record.state === 'queued' || record.state === 'running') {
        const was = record.state;
        this.finish(job, 'interrupted', { name: 'JobStop', code: 'E_INTERRUPTED', message: `interrupted: the server stopped while the job was ${was} (resume it with POST /jobs/${record.id}/resume)` });
      } else job.events.push('state', this.stateEvent(record));
    }
  }

  list(): JobRecord[] {
    return [...this.jobs.values()].map((j) => j.record);
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id)?.record;
  }

  events(id: string): JobEvents | undefined {
    return this.jobs.get(id)?.events;
  }

  /** Reads and checks the request (typed errors for bad ones), then queues it. */
  async submit(kind: JobKind, body: Record<string, unknown>): Promise<JobRecord> {
    this.refuseWhenClosing();
    const options = await readJobOptions(kind, body, this.o.roots);
    this.refuseWhenFull();
    this.refuseConflict(options, undefined);
    const request = { ...body };
    delete request.kind;
    const record: JobRecord = { id: randomBytes(12).toString('base64url'), kind, request, state: 'queued', createdAt: now(), runs: 0, warnings: [] };
    const job: Job = { record, events: new JobEvents(), options };
    this.jobs.set(record.id, job);
    this.enqueue(job);
    return record;
  }

  /** Cancels a queued or running job; a finished one is refused (409). */
  cancel(id: string): JobRecord {
    const job = this.jobs.get(id)!;
    const { state } = job.record;
    if (state === 'queued') {
      const at = this.waiting.indexOf(job);
      if (at >= 0) this.waiting.splice(at, 1); // else it is about to start, and run() sees it cancelled
      this.finish(job, 'cancelled', errorOf(new JobStop('cancelled')));
    } else if (state === 'running') job.controller!.abort(new JobStop('cancelled'));
    else throw new JobRefusedError(`job ${id} is ${state}: only a queued or running job can be cancelled`, 'E_JOB_STATE', 409);
    return job.record;
  }

  /** Queues an interrupted, cancelled or failed job again: sweeps and papers with resume (their cached cells are kept), others from the start. */
  async resume(id: string): Promise<JobRecord> {
    this.refuseWhenClosing();
    const job = this.jobs.get(id)!;
    if (!RESUMABLE.includes(job.record.state))
      throw new JobRefusedError(`job ${id} is ${job.record.state}: only an interrupted, cancelled or failed job can be resumed`, 'E_JOB_STATE', 409);
    const resumes = job.record.kind === 'sweep' || job.record.kind === 'paper';
    // Read again: the files or the roots may have changed since.
    const options = await readJobOptions(job.record.kind, { ...job.record.request, ...(resumes ? { resume: true, force: undefined } : {}) }, this.o.roots);
    this.refuseWhenFull();
    this.refuseConflict(options, id);
    if (!RESUMABLE.includes(job.record.state)) throw new JobRefusedError(`job ${id} is ${job.record.state}`, 'E_JOB_STATE', 409); // resumed twice at once
    job.options = options;
    job.events = new JobEvents(); // a stream of the new run does not end at the old final state
    job.record = { ...job.record, state: 'queued', warnings: [], error: undefined, finishedAt: undefined, progress: undefined, report: undefined, outputs: undefined, outputBase: undefined, summary: undefined };
    this.enqueue(job);
    return job.record;
  }

  /** Forgets a finished job (its record and events; the files it wrote stay). A live one is refused (409). */
  async remove(id: string): Promise<void> {
    const job = this.jobs.get(id)!;
    if (!FINAL_STATES.includes(job.record.state))
      throw new JobRefusedError(`job ${id} is ${job.record.state}: cancel it first`, 'E_JOB_STATE', 409);
    this.jobs.delete(id);
    await this.o.store.remove(id);
  }

  /**
   * Stops taking jobs, marks the waiting ones interrupted, aborts the running ones (which
   * then clean up as the library guarantees) and waits for them and for every record write.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.waiting.splice(0)) this.finish(job, 'interrupted', errorOf(new JobStop('interrupted')));
    const running = [...this.jobs.values()].filter((j) => j.running);
    for (const job of running) job.controller!.abort(new JobStop('interrupted'));
    await Promise.allSettled(running.map((j) => j.running));
    await this.o.store.flush();
  }

  private refuseWhenClosing(): void {
    if (this.closing) throw new JobRefusedError('the server is stopping', 'E_STOPPING', 503);
  }

  private refuseWhenFull(): void {
    if (this.waiting.length >= this.o.maxQueued)
      throw new JobRefusedError(`the queue is full (${this.waiting.length} jobs waiting, --max-queued ${this.o.maxQueued}): retry later`, 'E_QUEUE_FULL', 429);
  }

  /** Two live jobs writing the same output would race for it. */
  private refuseConflict(options: Record<string, unknown>, self: string | undefined): void {
    for (const other of this.jobs.values()) {
      const live = other.record.state === 'queued' || other.record.state === 'running';
      if (live && other.record.id !== self && other.options?.out !== undefined && other.options.out === options.out)
        throw new JobRefusedError(`job ${other.record.id} (${other.record.state}) already writes ${String(options.out)}`, 'E_OUT_IN_USE', 409);
    }
  }

  private stateEvent(r: JobRecord): Record<string, unknown> {
    return { state: r.state, ...(r.error ? { error: r.error } : {}), ...(r.summary ? { summary: r.summary } : {}) };
  }

  private setState(job: Job, state: JobState, extra: Partial<JobRecord> = {}): void {
    job.record = { ...job.record, ...extra, state };
    job.events.push('state', this.stateEvent(job.record));
    this.o.log.info({ job: job.record.id, kind: job.record.kind, state, ...(job.record.error ? { error: job.record.error.message } : {}) }, 'job state');
    this.o.store.save(job.record).catch((e) => this.o.log.error({ job: job.record.id, err: e }, 'cannot save the job record'));
  }

  private finish(job: Job, state: JobState, error?: JobRecord['error'], extra: Partial<JobRecord> = {}): void {
    this.setState(job, state, { ...extra, error, finishedAt: now() });
  }

  private enqueue(job: Job): void {
    this.waiting.push(job);
    this.setState(job, 'queued');
    this.pump();
  }

  private pump(): void {
    while (!this.closing && this.active < this.o.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      this.active++;
      // On a later turn of the event loop: the library's checks and loading never run on a request's path.
      job.running = new Promise((resolve) => setImmediate(resolve)).then(() => this.run(job)).finally(() => {
        job.running = undefined;
        this.active--;
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    if (job.record.state !== 'queued') return; // cancelled between leaving the queue and starting
    if (this.closing) return this.finish(job, 'interrupted', errorOf(new JobStop('interrupted')));
    const controller = new AbortController();
    job.controller = controller;
    this.setState(job, 'running', { startedAt: now(), runs: job.record.runs + 1 });
    try {
      const outcome = await runJob(job.record.kind, job.options!, {
        id: job.record.id,
        signal: controller.signal,
        reportsDir: this.o.store.reportsDir,
        onProgress: (p) => {
          job.record.progress = p;
          job.events.push('progress', p);
        },
        onWarning: (message) => {
          job.record.warnings.push(message);
          job.events.push('warning', { message });
        },
      });
      this.finish(job, 'succeeded', undefined, outcome);
    } catch (e) {
      const stop = controller.signal.aborted && controller.signal.reason instanceof JobStop ? controller.signal.reason : undefined;
      if (stop) this.finish(job, stop.state, errorOf(stop));
      else this.finish(job, 'failed', errorOf(e));
    } finally {
      job.controller = undefined;
    }
  }
}

export { FINAL_STATES };
