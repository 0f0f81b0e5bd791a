// Event-loop responsiveness during prune(): a SparseGPT prune (50%) of the embedded demo
// model with its calibration file, through the public API and in process, while a timer
// ticking every 10 ms records how late each tick fires (perf_hooks' event-loop delay
// histogram is reported beside it). Each tick is charged to the stage that was running
// when its wait began (from onProgress), so the table says which stage stalls. Idle ticks
// measured first, in the same run, give the machine's own floor (the machines are shared).
// On Linux each tick also records how the JS thread spent its wait (/proc schedstat): on a
// core, or runnable but waiting for one (starved by the native pool or other processes).
// "held" is the JS thread's time on a core beyond the interval: the lateness its own
// synchronous work accounts for, which does not depend on how busy the machine is (on a
// shared machine "late" mostly measures the other processes).
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
  /** onCpuMs beyond the interval (null without schedstat). */
  heldMs: number | null;
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
    const onCpuMs = sched && was ? (sched[0] - was[0]) / 1e6 : null;
    this.ticks.push({
      lateMs: Math.max(0, now - this.last - this.intervalMs),
      onCpuMs,
      runnableMs: sched && was ? (sched[1] - was[1]) / 1e6 : null,
      heldMs: onCpuMs === null ? null : Math.max(0, onCpuMs - this.intervalMs),
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

/** Lateness and held time of some ticks, with how many of each went over stallMs. */
function summarizeTicks(ts: Tick[], stallMs: number) {
  const late = ts.map((t) => t.lateMs);
  const held = ts.flatMap((t) => (t.heldMs === null ? [] : [t.heldMs]));
  return {
    late: { ...summarize(late), stalls: late.filter((x) => x > stallMs).length },
    held: held.length ? { ...summarize(held), stalls: held.filter((x) => x > stallMs).length } : null,
  };
}

/** Ticks charged to the stage their wait began in. */
function byStage(ticks: Tick[], stallMs: number) {
  const groups = new Map<string, Tick[]>();
  for (const t of ticks) {
    if (!groups.has(t.stages[0])) groups.set(t.stages[0], []);
    groups.get(t.stages[0])!.push(t);
  }
  return [...groups].map(([stage, ts]) => ({ stage, ...summarizeTicks(ts, stallMs) }));
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
    const ms = (ns: number) => ns / 1e6;
    return {
      seconds: report.timings.total,
      stageSeconds: Object.fromEntries(['load', 'calibration', 'prune', 'write'].map((k) => [k, report.timings[k]])),
      ...summarizeTicks(ticks, a.stallMs),
      histogram: { p50Ms: ms(histogram.percentile(50)), p99Ms: ms(histogram.percentile(99)), maxMs: ms(histogram.max) },
      byStage: byStage(ticks, a.stallMs),
      stalls: ticks.filter((t) => t.lateMs > a.stallMs || (t.heldMs ?? 0) > a.stallMs),
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
  const three = (x: Summary | null) => (x ? [f(x.p50Ms), f(x.p99Ms), f(x.maxMs)] : ['-', '-', '-']);
  const lines = [
    `event-loop lateness of a ${a.intervalMs} ms timer during a SparseGPT 50% prune of ${path.basename(a.model)}; ` +
      `held: the JS thread's own time on a core beyond the interval; stalls: over ${a.stallMs} ms`,
    `idle floor: p50 ${f(idle.p50Ms)} ms, p99 ${f(idle.p99Ms)} ms, max ${f(idle.maxMs)} ms over ${idle.ticks} ticks`,
  ];
  runs.forEach((r, i) => {
    const rows = [...r.byStage, { stage: 'all', late: r.late, held: r.held }];
    lines.push(
      '',
      `run ${i + 1}: ${r.seconds.toFixed(1)} s, ${r.late.ticks} ticks (histogram p99 ${f(r.histogram.p99Ms)}, max ${f(r.histogram.maxMs)} ms); ` +
        `output sha256 ${r.outputSha256.slice(0, 16)}`,
      table(
        ['stage', 'ticks', 'late p50', 'p99', 'max', 'held p50', 'p99', 'max', 'stalls late/held'],
        rows.map((s) => [s.stage, String(s.late.ticks), ...three(s.late), ...three(s.held), `${s.late.stalls}/${s.held?.stalls ?? '-'}`]),
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
    worst: {
      late: { p99Ms: Math.max(...runs.map((r) => r.late.p99Ms)), maxMs: Math.max(...runs.map((r) => r.late.maxMs)) },
      held: runs.every((r) => r.held)
        ? { p99Ms: Math.max(...runs.map((r) => r.held!.p99Ms)), maxMs: Math.max(...runs.map((r) => r.held!.maxMs)) }
        : null,
    },
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
