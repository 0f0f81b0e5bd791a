// A `shears worker` child process and its log lines (pino JSON) as they arrive, for
// bench:distributed and the distributed-sweep tests. Runs the built CLI (dist/).
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';

import { packageRoot } from '../lib/native/binding';

export type LogLine = Record<string, unknown>;

export interface WorkerProcess {
  child: ChildProcess;
  lines: LogLine[];
  /** The first log line (seen or to come) that `pred` accepts; rejects if the worker exits first. */
  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine>;
}

export function startWorker(queue: string, o: { lockSeconds?: number; threads?: number } = {}): WorkerProcess {
  const args = [path.join(packageRoot(), 'bin', 'shears.js'), 'worker', '--queue', queue, ...(o.lockSeconds !== undefined ? ['--lock-seconds', String(o.lockSeconds)] : [])];
  const env = o.threads !== undefined ? { ...process.env, SHEARS_THREADS: String(o.threads) } : process.env;
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    lines.push(line);
    for (const w of [...waiters]) if (w.pred(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
  });
  const waitFor = (pred: (l: LogLine) => boolean) =>
    new Promise<LogLine>((resolve, reject) => {
      const seen = lines.find(pred);
      if (seen) return resolve(seen);
      waiters.push({ pred, resolve });
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before the awaited log line`)));
    });
  return { child, lines, waitFor };
}
