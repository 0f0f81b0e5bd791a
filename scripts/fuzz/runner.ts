// The supervisor's side of the runner process: sends it one case at a time, and turns a
// case that runs past its time, past its memory budget, or kills the process into an
// outcome (timeout, memory, crash), killing and later respawning the runner.
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Outcome, RunSpec } from './spec';

export interface RunnerOptions {
  /** Wall-clock limit of one case. */
  timeoutMs: number;
  /** Limit on the runner's resident memory (and its V8 heap), in MiB. */
  memoryMb: number;
}

/** The runner entry: the compiled child.js, or child.ts through the transpiling hook when running from sources. */
function entry(): { file: string; execArgv: string[] } {
  if (__filename.endsWith('.ts')) return { file: path.join(__dirname, 'child.ts'), execArgv: ['-r', path.join(__dirname, 'ts-hook.js')] };
  return { file: path.join(__dirname, 'child.js'), execArgv: [] };
}

/** Resident set size of a process in bytes (Linux /proc), or undefined where that is not readable. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// V8's own words when an allocation cannot be satisfied: heap limit, or a table/array past its maximum size.
const ALLOCATION_FATAL = /out of memory|Reached heap limit|Allocation failed|invalid (table |array )?(size|length)/i;

export class Runner {
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private stderr = '';
  private nextId = 1;
  /** Runner processes started so far (1 + respawns). */
  starts = 0;

  constructor(private readonly opts: RunnerOptions) {}

  private start(): Promise<void> {
    const e = entry();
    this.stderr = '';
    this.starts++;
    const child = fork(e.file, [], {
      execArgv: [...e.execArgv, `--max-old-space-size=${this.opts.memoryMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4000);
    });
    this.child = child;
    // A runner that dies between cases is respawned by the next run; a send to a dead one
    // reports through 'close' below, so its 'error' event needs no handling of its own.
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    child.on('error', () => undefined);
    return new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`fuzz runner exited before it was ready (code ${code}, signal ${signal}): ${this.stderr.trim().slice(-500)}`));
      child.once('exit', onExit);
      child.once('message', () => {
        child.off('exit', onExit);
        resolve();
      });
    });
  }

  private kill(): void {
    const c = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  async run(dir: string, spec: RunSpec): Promise<Outcome> {
    if (!this.child) this.ready = this.start();
    await this.ready;
    const child = this.child!;
    const id = this.nextId++;
    const t0 = performance.now();
    return new Promise<Outcome>((resolve) => {
      let done = false;
      const finish = (o: Omit<Outcome, 'ms'> & { ms?: number }, kill: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(watch);
        child.off('message', onMessage);
        child.off('close', onExit);
        if (kill) this.kill();
        resolve({ ...o, ms: o.ms ?? performance.now() - t0 });
      };
      const onMessage = (m: { id?: number; outcome?: Outcome }) => {
        if (m.id === id && m.outcome) finish(m.outcome, false);
      };
      const onExit = (code: number | null, signal: string | null) => {
        const last = this.stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).join(' | ');
        const allocation = ALLOCATION_FATAL.test(this.stderr);
        this.child = undefined;
        finish({ class: allocation ? 'memory' : 'crash', name: signal ?? `exit ${code}`, message: `runner died (${signal ?? `exit code ${code}`}): ${last.slice(0, 600)}` }, false);
      };
      const timer = setTimeout(() => finish({ class: 'timeout', name: 'Timeout', message: `no result after ${this.opts.timeoutMs} ms` }, true), this.opts.timeoutMs);
      const budget = this.opts.memoryMb * 1024 * 1024;
      const watch = setInterval(() => {
        const rss = child.pid === undefined ? undefined : rssOf(child.pid);
        if (rss !== undefined && rss > budget)
          finish({ class: 'memory', name: 'OverBudget', message: `resident memory ${Math.round(rss / 1048576)} MiB over the ${this.opts.memoryMb} MiB budget` }, true);
      }, 20);
      child.on('message', onMessage);
      // 'close' comes after the last stderr bytes, which say why the runner died.
      child.once('close', onExit);
      child.send({ id, dir, spec });
    });
  }

  close(): void {
    this.kill();
  }
}
