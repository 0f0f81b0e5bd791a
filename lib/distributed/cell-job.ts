// One queued cell: everything a worker needs to compute it without the coordinator —
// the sweep's options (paths made absolute: the workers share the filesystem, not the
// coordinator's working directory), the output folder, and the cell. The job id is the
// sweep's settings key and the cell's name, so adding a cell twice is one job (BullMQ
// keeps ids unique) and a cell computed twice gives the same file.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { QueueError } from '../errors';
import { cacheSettings } from '../sweep/cache-settings';
import type { CellSpec, SweepOptions } from '../sweep/options';
import { SweepStore } from '../sweep/store';

export const CELL_JOB_NAME = 'sweep-cell';
/** Payload layout; a worker refuses a job of another layout (an older or newer shears). */
export const CELL_JOB_VERSION = 1;

export interface CellJob {
  version: number;
  /** The sweep's options: plain values, absolute paths. */
  options: SweepOptions;
  spec: CellSpec;
  /** 1-based place of the cell in the sweep, and the sweep's cell count (for progress lines). */
  index: number;
  cells: number;
  /** sha256 of the sweep's cache settings and output folder, 16 hex digits. */
  sweepKey: string;
}

/** What a worker sends with job.updateProgress. */
export interface CellJobProgress {
  worker: string;
  detail: string;
}

/** What a worker returns for a job. */
export interface CellJobResult {
  worker: string;
  /** 'computed': the worker computed and saved the cell; 'cached': it was already saved. */
  outcome: 'computed' | 'cached';
  status: 'ok' | 'na';
}

/** The options that name files, resolved against the coordinator's working directory. */
const PATH_OPTIONS = ['model', 'tokenizer', 'calib', 'calibTokens', 'eval', 'evalTokens', 'queries', 'out'] as const;

/** The options a cell depends on: every plain value of SweepOptions except how this run was started (resume, force, queue). */
export function cellJobOptions(o: SweepOptions): SweepOptions {
  const plain = Object.fromEntries(
    Object.entries(o).filter(([k, v]) => v !== undefined && typeof v !== 'function' && !(v instanceof AbortSignal) && !['resume', 'force', 'queue', 'json'].includes(k)),
  ) as unknown as SweepOptions;
  for (const k of PATH_OPTIONS) if (typeof plain[k] === 'string') (plain as unknown as Record<string, string>)[k] = path.resolve(plain[k]!);
  return plain;
}

export function sweepKey(o: SweepOptions): string {
  return createHash('sha256').update(JSON.stringify({ settings: cacheSettings(o), out: path.resolve(o.out) })).digest('hex').slice(0, 16);
}

/** "<sweep key>_<cell file name>": BullMQ ids may not hold ':' (the key separator). */
export function cellJobId(key: string, store: SweepStore, spec: CellSpec): string {
  return `${key}_${path.basename(store.cellFile(spec), '.json')}`;
}

/** This worker's name in progress lines and logs: host and pid. */
export const workerName = (): string => `${os.hostname()}:${process.pid}`;

/**
 * The checks a worker makes before computing a cell: the payload's layout, every file
 * the sweep names present here, and the folder's saved settings (sweep.json, written by
 * the coordinator) equal to what this machine computes from the same options — model
 * files of the same size and time, so the worker reads the same checkpoint.
 */
export function checkCellJob(job: unknown, worker: string): CellJob {
  const j = job as Partial<CellJob>;
  if (!j || j.version !== CELL_JOB_VERSION || !j.options || !j.spec || typeof j.sweepKey !== 'string')
    throw new QueueError(`worker ${worker}: a job of another layout (version ${String(j?.version)}; this shears reads ${CELL_JOB_VERSION}): update shears on every machine`);
  const c = j as CellJob;
  for (const k of PATH_OPTIONS) {
    const p = c.options[k];
    if (typeof p === 'string' && !fs.existsSync(p))
      throw new QueueError(`worker ${worker}: --${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)} ${p} does not exist on this machine: workers need the sweep's files at the same paths (a shared filesystem)`);
  }
  const saved = path.join(c.options.out, 'sweep.json');
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(fs.readFileSync(saved, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new QueueError(`worker ${worker}: cannot read ${saved} (${(e as Error).message}): is the output folder on a filesystem every worker shares?`);
  }
  const mine = cacheSettings(c.options);
  const differ = Object.keys({ ...old, ...mine }).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(mine[k]));
  if (differ.length > 0)
    throw new QueueError(`worker ${worker}: the sweep in ${c.options.out} was started with other settings than this machine sees (${differ.join(', ')}): different files at the same paths?`);
  return c;
}
