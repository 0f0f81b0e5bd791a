// Distributed sweep benchmark: the demo's sweep (`shears demo`: every method on the
// embedded model) run three ways in one go, each into a fresh folder:
//   local      sweep() in this process, the native pool on every core;
//   1 worker   sweep --queue through a local Redis, one `shears worker` process;
//   2 workers  the same with two worker processes, the cores split between them
//              (SHEARS_THREADS = cores / 2 each, so that both setups use the same cores).
// Wall time from the sweep's start to its report, the workers already waiting (their
// start-up, a second or so, is not counted; preparing a sweep's data on each worker is).
// The cells of every run are compared with the local run's (quality, sparsity and
// parameters: everything but timings and memory, lib/sweep/compare.ts); those that
// differ are listed.
//   node dist/bench/distributed.js [--json] [--methods a,b] [--levels 0.3,0.5] [--patterns unstructured,2:4]
//     [--keep DIR]
// --methods/--levels/--patterns narrow the demo's sweep (default: all of it, ~240 cells;
// `--levels` replaces every method's levels, the slow methods' 50% included).
// Needs redis-server (the Debian package) on PATH.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { demoSweep } from '../lib/cli/commands/demo';
import { packageRoot } from '../lib/native/binding';
import type { SweepCell } from '../lib/report/types';
import { sweep, SweepRunOptions } from '../lib/sweep/run';
import { differingCells } from '../lib/sweep/compare';
import { parseLevels, parseList } from '../lib/sweep/options';
import { startLocalRedis } from './local-redis';
import { emitReport, machineInfo, table } from './machine';
import { startWorker } from './worker-process';


interface Args {
  json: boolean;
  methods?: string[];
  levels?: number[];
  patterns?: string[];
  keep?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === '--json') a.json = true;
    else if (argv[i] === '--methods') a.methods = parseList(v());
    else if (argv[i] === '--levels') a.levels = parseLevels(v());
    else if (argv[i] === '--patterns') a.patterns = parseList(v());
    else if (argv[i] === '--keep') a.keep = v();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

function sweepOptions(a: Args, out: string): SweepRunOptions {
  const demo = demoSweep(path.join(packageRoot(), 'assets', 'demo-model'));
  const methods = a.methods ?? demo.methods;
  return {
    ...demo,
    methods,
    ...(a.levels ? { levels: a.levels, methodLevels: undefined } : { methodLevels: Object.fromEntries(Object.entries(demo.methodLevels ?? {}).filter(([m]) => methods.includes(m))) }),
    ...(a.patterns ? { patterns: a.patterns } : {}),
    out,
  };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const redis = await startLocalRedis();
  if (typeof redis === 'string') throw new Error(`bench:distributed needs a local Redis: ${redis}`);
  const work = a.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shears-bench-distributed-'));
  const cores = os.cpus().length;
  const runs: { setup: string; workers: number; threads_per_worker: number; wall_seconds: number; cells: number; computed: number; differing_cells: string[] }[] = [];
  let local: SweepCell[] | undefined;
  const workers: ChildProcess[] = [];
  try {
    const setups = [
      { setup: 'local', workers: 0, threads: cores },
      { setup: '1 worker', workers: 1, threads: cores },
      { setup: '2 workers', workers: 2, threads: Math.max(1, Math.floor(cores / 2)) },
    ];
    for (const s of setups) {
      const queue = `${redis.url}?queue=bench-${process.pid}-${s.workers}`;
      for (let i = 0; i < s.workers; i++) {
        const w = startWorker(queue, { threads: s.threads });
        workers.push(w.child);
        await w.waitFor((l) => l.msg === 'worker ready');
      }
      const o = { ...sweepOptions(a, path.join(work, s.setup.replace(' ', '-'))), ...(s.workers > 0 ? { queue } : {}), force: true };
      process.stderr.write(`${s.setup}: ${o.out}\n`);
      const t0 = process.hrtime.bigint();
      const outcome = await sweep(o);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      for (const w of workers.splice(0)) w.kill('SIGTERM');
      const cells = outcome.results.cells;
      local ??= cells;
      runs.push({
        setup: s.setup,
        workers: s.workers,
        threads_per_worker: s.threads,
        wall_seconds: wall,
        cells: cells.length,
        computed: outcome.computed,
        differing_cells: differingCells(local, cells).map((i) => `${cells[i]?.method ?? local![i].method} ${cells[i]?.pattern ?? local![i].pattern} ${cells[i]?.level ?? local![i].level}`),
      });
    }
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    await redis.stop();
    if (!a.keep) fs.rmSync(work, { recursive: true, force: true });
  }
  const base = runs[0].wall_seconds;
  const text = table(
    ['setup', 'workers', 'threads each', 'cells', 'wall s', 'vs local', 'cells identical'],
    runs.map((r) => [r.setup, String(r.workers), String(r.threads_per_worker), String(r.cells), r.wall_seconds, `${(base / r.wall_seconds).toFixed(2)}x`, r.differing_cells.length === 0 ? 'yes' : `NO: ${r.differing_cells.length}`]),
  );
  emitReport(a.json, text, { benchmark: 'distributed', machine: machineInfo(), sweep: { methods: sweepOptions(a, '').methods, cells: runs[0].cells }, runs });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:distributed: ${(e as Error).message}\n`);
  process.exit(1);
});
