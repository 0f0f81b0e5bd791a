// Scratch space of a run: its temporaries (offloaded blocks, the output being written,
// a report file about to replace the old one) live in ONE entry beside the output, whose
// name records the owner process. A later run can then tell scratch whose owner is gone
// (stopped by SIGKILL, crashed, the machine rebooted) from scratch still in use, and
// removes only the former.
//
// Name: .shears-tmp-run-<pid>-<start>-<host>-<boot>-<random>
//   pid    the owner's process id
//   start  its start time (clock ticks after boot, /proc/<pid>/stat field 22), so that
//          a new process that happens to get the same pid is not taken for the owner
//   host   8 hex digits of sha256(hostname and pid namespace): on a shared folder,
//          another machine's (or container's) processes cannot be checked, so their
//          scratch is never touched
//   boot   8 hex digits of sha256(boot id): scratch from before a reboot is dead
// 'x' marks a field this platform cannot tell (no /proc): the check then falls back to
// "a process with that pid exists", which may keep dead scratch but never removes live.
// The owner is part of the name, which exists from the instant mkdtemp creates the
// folder: there is no moment at which another run could see scratch without an owner.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PREFIX = '.shears-tmp-run-';
const NAME = /^\.shears-tmp-run-(\d+)-(\d+|x)-([0-9a-f]{8})-([0-9a-f]{8}|x)-[A-Za-z0-9]+$/;

export interface ScratchOwner {
  pid: number;
  /** Start time in clock ticks after boot; undefined where unknown. */
  start?: string;
  host: string;
  boot?: string;
}

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of `pid` (field 22 of /proc/<pid>/stat), undefined without /proc or when it has exited. */
export function processStart(pid: number | 'self'): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Field 2 (the command name) may hold spaces and parentheses: count after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19]; // field 22 overall = the 20th after "pid (comm)"
}

// Containers on one machine share its boot id and may share a hostname, but not their pids.
function pidNamespace(): string {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

let self: ScratchOwner | undefined;

/** This process as an owner. */
export function currentOwner(): ScratchOwner {
  if (!self) {
    const boot = readText('/proc/sys/kernel/random/boot_id')?.trim();
    self = { pid: process.pid, start: processStart('self'), host: hash8(`${os.hostname()}\0${pidNamespace()}`), boot: boot ? hash8(boot) : undefined };
  }
  return self;
}

/** The owner recorded in a scratch name, or undefined for any other name. */
export function parseScratchName(name: string): ScratchOwner | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  return { pid: Number(m[1]), start: m[2] === 'x' ? undefined : m[2], host: m[3], boot: m[4] === 'x' ? undefined : m[4] };
}

export function scratchPrefix(owner: ScratchOwner = currentOwner()): string {
  return `${PREFIX}${owner.pid}-${owner.start ?? 'x'}-${owner.host}-${owner.boot ?? 'x'}-`;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * 'gone' only when it is certain: same host, and either another boot, no process with
 * that pid, or one that started at another time. Another host's scratch is 'unknown'.
 */
export function ownerState(owner: ScratchOwner, me: ScratchOwner = currentOwner()): 'alive' | 'gone' | 'unknown' {
  if (owner.host !== me.host) return 'unknown';
  if (owner.boot && me.boot && owner.boot !== me.boot) return 'gone';
  if (owner.pid === me.pid && owner.start === me.start) return 'alive';
  if (!pidExists(owner.pid)) return 'gone';
  if (owner.start && me.start) {
    const now = processStart(owner.pid);
    if (now === undefined) return pidExists(owner.pid) ? 'alive' : 'gone'; // exited between the two looks
    return now === owner.start ? 'alive' : 'gone';
  }
  return 'alive';
}

// Scratch entries of this process not yet removed: removed synchronously at exit, so
// that process.exit() (a second Ctrl-C, a fatal error) does not leak them either.
const live = new Set<string>();
const removeLive = () => {
  for (const p of live) fs.rmSync(p, { recursive: true, force: true });
  live.clear();
};

function track(p: string): void {
  if (live.size === 0) process.on('exit', removeLive);
  live.add(p);
}

function untrack(p: string): void {
  live.delete(p);
  if (live.size === 0) process.off('exit', removeLive);
}

/** Removes every scratch entry of this process now (for an immediate exit). */
export function removeAllScratchSync(): void {
  removeLive();
  process.off('exit', removeLive);
}

/** One run's scratch folder. */
export class Scratch {
  private constructor(readonly dir: string) {}

  /** Creates a scratch folder in `folder` (which must exist). Errors are the caller's to name. */
  static create(folder: string): Scratch {
    const dir = fs.mkdtempSync(path.join(folder, scratchPrefix()));
    track(dir);
    return new Scratch(dir);
  }

  /** A path inside the scratch folder. */
  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Removes the folder and everything in it. Idempotent. */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    untrack(this.dir);
  }
}

/** A scratch name for a single temporary file in `folder`, removed at exit if still there. */
export function scratchFile(folder: string): { file: string; done: () => void } {
  const file = path.join(folder, `${scratchPrefix()}${randomBytes(6).toString('hex')}`);
  track(file);
  return { file, done: () => untrack(file) };
}

export interface StaleScratch {
  /** The removed entry's full path. */
  path: string;
  owner: ScratchOwner;
}

/**
 * Removes the scratch entries in `folder` whose owner is gone; returns what it removed.
 * Entries of live processes, of other hosts and with other names are left alone; an
 * entry that cannot be removed (permissions) is skipped.
 */
export function removeStaleScratch(folder: string): StaleScratch[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: StaleScratch[] = [];
  for (const name of names) {
    const owner = parseScratchName(name);
    if (!owner || ownerState(owner) !== 'gone') continue;
    const p = path.join(folder, name);
    try {
      fs.rmSync(p, { recursive: true, force: true });
      removed.push({ path: p, owner });
    } catch {
      /* not ours to remove after all (permissions): left for its owner's user */
    }
  }
  return removed;
}

/** One line saying what removeStaleScratch removed, or undefined when nothing. */
export function describeStale(removed: readonly StaleScratch[], folder: string): string | undefined {
  if (removed.length === 0) return undefined;
  const pids = [...new Set(removed.map((r) => r.owner.pid))].join(', ');
  const what = removed.length === 1 ? 'scratch entry' : 'scratch entries';
  return `removed ${removed.length} ${what} left in ${folder} by stopped runs (process ${pids}, no longer running)`;
}

/** removeStaleScratch(folder), said in one line (undefined when nothing was removed). */
export function cleanStaleScratch(folder: string): string | undefined {
  return describeStale(removeStaleScratch(folder), folder);
}
