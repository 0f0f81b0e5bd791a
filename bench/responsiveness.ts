// Event-loop responsiveness during prune(): a SparseGPT prune (50%) of the embedded demo
// model with its calibration file, through the public API and in process, while a timer
// ticking every 10 ms records how late each tick fires (perf_hooks' event-loop delay
// histogram is reported beside it). Each tick is charged to the stage that was running
// when its wait began (from onProgress), so the table says which stage stalls. Idle ticks
// measured first, in the same run, give the machine's own floor (the machines are shared).
// On Linux each tick also records how the JS thread spent its wait (/proc schedstat): on
// a core (JS or synchronous native work holding the loop) or runnable but waiting for a
// core (starved by the native pool or by other processes: the machine, not the code).
// The pruned model's SHA-256 is reported so runs (and versions) can be checked to prune alike.
//   npm run bench:responsiveness -- [--json] [--runs N] [--interval MS] [--stall MS] [--model DIR] [--calib FILE]
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { prune, PruneProgress } from '../lib';
import { packageRoot } from '../lib/native/binding';
import { emitReport, machineInfo, percentile, table } from './machine';

interface Args {
  json: boolean;
  runs: number;
  intervalMs: number;
  stallMs: number;
  idleMs: number;
  model: string;
  calib: string;
}

const DEMO = path.join(packageRoot(), 'assets', 'demo-model');

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, runs: 1, intervalMs: 10, stallMs: 20, idleMs: 1000, model: DEMO, calib: path.join(DEMO, 'calib.txt') };
  const num = (k: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${k} needs a number >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--json') a.json = true;
    else if (k === '--runs') a.runs = Math.floor(num(k, argv[++i], 1));
    else if (k === '--interval') a.intervalMs = num(k, argv[++i], 1);
    else if (k === '--stall') a.stallMs = num(k, argv[++i], 0);
    else if (k === '--idle') a.idleMs = num(k, argv[++i], 0);
    else if (k === '--model') a.model = path.resolve(argv[++i] ?? '');
    else if (k === '--calib') a.calib = path.resolve(argv[++i] ?? '');
    else throw new Error(`unknown argument ${k} (expected --json, --runs N, --interval MS, --stall MS, --idle MS, --model DIR, --calib FILE)`);
  }
  return a;
}

interface Tick {
  /** ms after the tick was due. */
  lateMs: number;
  /** The JS thread's ms on a core, and runnable but waiting for one, during the wait (Linux; else null). */
  onCpuMs: number | null;
  runnableMs: number | null;
  /** Seconds since the run started, when the tick's wait began. */
  atSeconds: number;
  /** The stage running when the wait began, and any entered while it lasted. */
  stages: string[];
}

/** A timer that records how late each of its ticks fires, with the stage label of the moment. */
class TickRecorder {
  readonly ticks: Tick[] = [];
  private stage = 'start';
  private seen: string[] = [];
  private last = performance.now();
  private lastSched = jsThreadSchedstat();
  private readonly t0 = this.last;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly intervalMs: number) {
    this.seen = [this.stage];
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  setStage(stage: string): void {
    if (stage === this.stage) return;
    this.stage = stage;
    if (!this.seen.includes(stage)) this.seen.push(stage);
  }

  private tick(): void {
    const now = performance.now();
    const sched = jsThreadSchedstat();
    const was = this.lastSched;
    this.ticks.push({
      lateMs: Math.max(0, now - this.last - this.intervalMs),
      onCpuMs: sched && was ? (sched[0] - was[0]) / 1e6 : null,
      runnableMs: sched && was ? (sched[1] - was[1]) / 1e6 : null,
      atSeconds: (this.last - this.t0) / 1000,
      stages: this.seen,
    });
    this.last = now;
    this.lastSched = sched;
    this.seen = [this.stage];
  }

  stop(): Tick[] {
    clearInterval(this.timer);
    return this.ticks;
  }
}

/** [ns on a core, ns runnable waiting for one] of the JS thread so far (Linux), else undefined. */
function jsThreadSchedstat(): [number, number] | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? [run, wait] : undefined;
  } catch {
    return undefined;
  }
}

function stageOf(p: PruneProgress): string {
  return p.stage === 'prune' && p.phase ? `prune:${p.phase}` : p.stage;
}

interface Summary {
  ticks: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function summarize(late: number[]): Summary {
  return { ticks: late.length, p50Ms: percentile(late, 0.5), p99Ms: percentile(late, 0.99), maxMs: late.length ? Math.max(...late) : NaN };
}

/** Ticks charged to the stage their wait began in; stalls (late > stallMs) counted per stage. */
function byStage(ticks: Tick[], stallMs: number) {
  const groups = new Map<string, Tick[]>();
  for (const t of ticks) {
    if (!groups.has(t.stages[0])) groups.set(t.stages[0], []);
    groups.get(t.stages[0])!.push(t);
  }
  return [...groups].map(([stage, ts]) => {
    const late = ts.map((t) => t.lateMs);
    const longest = ts.reduce((a, b) => (b.lateMs > a.lateMs ? b : a));
    return {
      stage,
      ...summarize(late),
      stalls: late.filter((x) => x > stallMs).length,
      /** Stalls in which the JS thread was on a core for at least half the lateness: held by work, not starved. */
      heldStalls: ts.filter((t) => t.lateMs > stallMs && t.onCpuMs !== null && t.onCpuMs >= t.lateMs / 2).length,
      /** How the JS thread spent the longest wait. */
      max: { onCpuMs: longest.onCpuMs, runnableMs: longest.runnableMs },
    };
  });
}

async function idleTicks(a: Args): Promise<Summary> {
  const rec = new TickRecorder(a.intervalMs);
  await new Promise((r) => setTimeout(r, a.idleMs));
  return summarize(rec.stop().map((t) => t.lateMs));
}

function sha256Of(dir: string): string {
  const h = createHash('sha256');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.safetensors')).sort()) h.update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex');
}

async function oneRun(a: Args) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-bench-resp-'));
  const out = path.join(tmp, 'pruned');
  const histogram = monitorEventLoopDelay({ resolution: a.intervalMs });
  const rec = new TickRecorder(a.intervalMs);
  histogram.enable();
  try {
    const report = await prune({
      model: a.model,
      method: 'sparsegpt',
      sparsity: 0.5,
      calib: a.calib,
      out,
      onProgress: (p) => rec.setStage(stageOf(p)),
    });
    histogram.disable();
    const ticks = rec.stop();
    const late = ticks.map((t) => t.lateMs);
    const ms = (ns: number) => ns / 1e6;
    return {
      seconds: report.timings.total,
      stageSeconds: Object.fromEntries(['load', 'calibration', 'prune', 'write'].map((k) => [k, report.timings[k]])),
      ...summarize(late),
      histogram: { p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) },
      byStage: byStage(ticks, a.stallMs),
      stalls: ticks.filter((t) => t.lateMs > a.stallMs),
      pruned: report.layers.reduce((s, l) => s + l.pruned, 0),
      outputSha256: sha256Of(out),
    };
  } finally {
    rec.stop();
    histogram.disable();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

type Run = Awaited<ReturnType<typeof oneRun>>;

function render(a: Args, idle: Summary, runs: Run[]): string {
  const f = (x: number) => x.toFixed(1);
  const opt = (x: number | null) => (x === null ? '-' : f(x));
  const lines = [
    `event-loop lateness of a ${a.intervalMs} ms timer during a SparseGPT 50% prune of ${path.basename(a.model)} (stall: > ${a.stallMs} ms late;` +
      ` held: the JS thread was on a core for half of it or more, else it was starved)`,
    `idle floor: p50 ${f(idle.p50Ms)} ms, p99 ${f(idle.p99Ms)} ms, max ${f(idle.maxMs)} ms over ${idle.ticks} ticks`,
  ];
  runs.forEach((r, i) => {
    lines.push(
      '',
      `run ${i + 1}: ${r.seconds.toFixed(1)} s, p50 ${f(r.p50Ms)} ms, p99 ${f(r.p99Ms)} ms, max ${f(r.maxMs)} ms over ${r.ticks} ticks ` +
        `(histogram p99 ${f(r.histogram.p99Ms)}, max ${f(r.histogram.maxMs)}); output sha256 ${r.outputSha256.slice(0, 16)}`,
      table(
        ['stage', 'ticks', 'p50 ms', 'p99 ms', 'max ms', 'of max: on cpu / runnable ms', 'stalls', 'held'],
        r.byStage.map((s) => [s.stage, String(s.ticks), f(s.p50Ms), f(s.p99Ms), f(s.maxMs), `${opt(s.max.onCpuMs)} / ${opt(s.max.runnableMs)}`, String(s.stalls), String(s.heldStalls)]),
      ),
    );
  });
  return lines.join('\n');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const idle = await idleTicks(a);
  const runs: Run[] = [];
  for (let i = 0; i < a.runs; i++) runs.push(await oneRun(a));
  const report = {
    bench: 'responsiveness',
    machine: machineInfo(),
    model: a.model,
    calib: a.calib,
    method: 'sparsegpt',
    sparsity: 0.5,
    intervalMs: a.intervalMs,
    stallMs: a.stallMs,
    idle,
    worst: { p99Ms: Math.max(...runs.map((r) => r.p99Ms)), maxMs: Math.max(...runs.map((r) => r.maxMs)) },
    runs,
  };
  emitReport(a.json, render(a, idle, runs), report);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bench:responsiveness: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
