// Facts about the machine a benchmark ran on, for its JSON output.
import * as os from 'node:os';

import { backendsInfo, poolThreads } from '../lib/kernels';

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    logical_cpus: cpus.length,
    memory_bytes: os.totalmem(),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    pool_threads: poolThreads(),
    load_average_1m: os.loadavg()[0],
    cuda: backendsInfo().cudaStatus,
  };
}

export function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs fn `reps` times after one warm-up, with `before` (untimed) ahead of each run; returns the median ms. */
export async function timeIt(reps: number, fn: () => Promise<unknown>, before?: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    if (before) await before();
    const t0 = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i > 0) times.push(ms);
  }
  return median(times);
}

/** A fixed-width text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => r.map((c, i) => String(c).padStart(widths[i])).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
}

/** The q-quantile (0..1) of xs, nearest rank (the smallest value with at least q of xs at or below it). */
export function percentile(xs: ArrayLike<number>, q: number): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** --json: the report as one JSON line on stdout and the table on stderr; else the table on stdout. */
export function emitReport(json: boolean, text: string, report: unknown): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.stderr.write(`${text}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
}

// Uniform values in (-scale, scale): one random megabyte-sized chunk repeated (enough
// for timing; the values do not matter).
export function randomF32(n: number, scale: number, seed: number): Float32Array {
  const chunk = new Float32Array(Math.min(n, 1 << 18));
  let s = seed >>> 0;
  for (let i = 0; i < chunk.length; ++i) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    chunk[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  const out = new Float32Array(n);
  for (let o = 0; o < n; o += chunk.length) out.set(chunk.subarray(0, Math.min(chunk.length, n - o)), o);
  return out;
}
