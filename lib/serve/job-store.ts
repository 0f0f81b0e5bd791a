// Job records on disk: one JSON file per job in <state>/jobs/, each written atomically
// (lib/report/atomic.ts), so a server stopped at any instant leaves every record whole.
// A server starting on a state folder takes the records back; those left queued or
// running by the previous server are marked interrupted (they can be resumed).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { writeFileAtomic } from '../report/atomic';
import { JOB_KINDS, JobKind } from './job-options';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
const STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'];

/** States a job does not leave unless resumed. */
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

/** A progress event of the library, as a job reports it (`label` is the line the CLI prints). */
export type JobProgress = { label: string; stage?: string; elapsedSeconds?: number } & Record<string, unknown>;

export interface JobRecord {
  id: string;
  kind: JobKind;
  /** The request's options, as submitted (without `kind`). */
  request: Record<string, unknown>;
  state: JobState;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Times the job was started (1 for a job that ran once; resumes add one). */
  runs: number;
  progress?: JobProgress;
  /** Why it failed, was cancelled or interrupted. */
  error?: { name: string; code?: string; message: string };
  warnings: string[];
  /** Succeeded jobs: the report file (JSON) and every file the job wrote, absolute. */
  report?: string;
  outputs?: string[];
  /** The folder the outputs are named from in GET /jobs/:id/files. */
  outputBase?: string;
  /** Kind-specific figures, e.g. a sweep's cells computed and reused. */
  summary?: Record<string, unknown>;
}

export class JobStore {
  readonly jobsDir: string;
  readonly reportsDir: string;
  // Writes of one record are chained, so an older state never lands after a newer one.
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly stateDir: string) {
    this.jobsDir = path.join(stateDir, 'jobs');
    this.reportsDir = path.join(stateDir, 'reports');
    fs.mkdirSync(this.jobsDir, { recursive: true });
    fs.mkdirSync(this.reportsDir, { recursive: true });
  }

  /** The records of earlier servers; unreadable ones are skipped and named in `skipped`. */
  load(): { records: JobRecord[]; skipped: string[] } {
    const records: JobRecord[] = [];
    const skipped: string[] = [];
    for (const name of fs.readdirSync(this.jobsDir)) {
      if (!/^[A-Za-z0-9_-]+\.json$/.test(name)) continue; // scratch of a write cut short, or foreign files
      const file = path.join(this.jobsDir, name);
      try {
        const r = JSON.parse(fs.readFileSync(file, 'utf8')) as JobRecord;
        const valid =
          `${String(r.id)}.json` === name && STATES.includes(r.state) && (JOB_KINDS as readonly string[]).includes(r.kind) && typeof r.createdAt === 'string' && typeof r.request === 'object' && r.request !== null;
        if (!valid) throw new Error('not a job record');
        r.warnings = Array.isArray(r.warnings) ? r.warnings : [];
        r.runs = Number.isInteger(r.runs) ? r.runs : 0;
        records.push(r);
      } catch (e) {
        skipped.push(`${file}: ${(e as Error).message}`);
      }
    }
    records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return { records, skipped };
  }

  save(record: JobRecord): Promise<void> {
    const data = `${JSON.stringify(record, null, 2)}\n`;
    const previous = this.writes.get(record.id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => writeFileAtomic(path.join(this.jobsDir, `${record.id}.json`), data));
    this.writes.set(record.id, next);
    return next;
  }

  /** Deletes a record (after its pending write) and an eval job's report. */
  async remove(id: string): Promise<void> {
    await this.writes.get(id)?.catch(() => undefined);
    this.writes.delete(id);
    await fs.promises.rm(path.join(this.jobsDir, `${id}.json`), { force: true });
    await fs.promises.rm(path.join(this.reportsDir, `${id}.json`), { force: true });
  }

  /** Waits for every pending write. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes.values()]);
  }
}
