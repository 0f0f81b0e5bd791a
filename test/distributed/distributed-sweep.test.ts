// A sweep spread over two `shears worker` processes through a real Redis, one worker
// killed (SIGKILL) in the middle of a cell: the sweep still completes, the killed cell is
// retried by the other worker after its lock lapses, and every cell equals the local
// sweep's (quality, sparsity, parameters; only timings and memory differ).
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cellOutcome, differingCells } from '../../lib/sweep/compare';
import { sweep, SweepRunOptions } from '../../lib/sweep/run';
import { startWorker as startWorkerProcess, WorkerProcess } from '../../bench/worker-process';
import { ensureCliBuilt, ROOT } from '../prune/helpers';
import { startTestRedis, TestRedis } from '../support/redis';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
// Long enough that a loaded CI machine still renews the live worker's locks in time.
const LOCK_SECONDS = 5;

let redis: TestRedis | string;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  if (typeof redis === 'string') console.warn(`skipping the distributed-sweep tests: ${redis}`);
  else ensureCliBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-distributed-'));
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (typeof redis !== 'string') await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const options = (out: string): SweepRunOptions => ({
  model: DEMO,
  methods: ['magnitude', 'wanda', 'sparsegpt'],
  levels: [0.3, 0.6],
  calib: path.join(DEMO, 'calib.txt'),
  calibSamples: 8,
  seqLen: 64,
  eval: path.join(DEMO, 'eval.txt'),
  maxWindows: 2,
  queries: path.join(DEMO, 'queries.txt'),
  out,
});

/** A worker process of this test (killed at the end if still running). */
function startWorker(queue: string): WorkerProcess {
  const w = startWorkerProcess(queue, { lockSeconds: LOCK_SECONDS });
  children.push(w.child);
  return w;
}

test('two workers, one killed mid-cell: the sweep completes with the local sweep\'s results', async () => {
  if (typeof redis === 'string') return;
  const queue = `${redis.url}?queue=test-${process.pid}-kill`;
  const local = await sweep(options(path.join(dir, 'local')));

  const a = startWorker(queue);
  const b = startWorker(queue);
  await Promise.all([a.waitFor((l) => l.msg === 'worker ready'), b.waitFor((l) => l.msg === 'worker ready')]);
  const progress: string[] = [];
  const distributed = sweep({ ...options(path.join(dir, 'queued')), queue, onProgress: (p) => progress.push(p.label) });
  // Killed as soon as it starts a cell: the cell is running, its file not yet written.
  const started = await a.waitFor((l) => l.msg === 'cell started');
  a.child.kill('SIGKILL');
  const outcome = await distributed;

  expect(outcome.results.cells).toHaveLength(6);
  expect(outcome.results.dense.perplexity).toBe(local.results.dense.perplexity);
  outcome.results.cells.forEach((c, i) => expect(cellOutcome(c)).toEqual(cellOutcome(local.results.cells[i])));
  expect(differingCells(local.results.cells, outcome.results.cells)).toEqual([]);
  expect(outcome.results.cells.every((c) => c.status === 'ok')).toBe(true);
  // The killed worker's cell was computed by the other one, after the lock lapsed.
  expect(a.lines.some((l) => l.job === started.job && l.msg === 'cell saved')).toBe(false);
  await b.waitFor((l) => l.job === started.job && l.msg === 'cell saved');
  // The folder holds exactly the cells: nothing partial, no temporaries.
  expect(fs.readdirSync(path.join(dir, 'queued', 'cells')).sort()).toEqual(fs.readdirSync(path.join(dir, 'local', 'cells')).sort());
  expect(progress.some((l) => /^\d+\/6 cells finished; cell \d\/6 \w+ unstructured 0\.[36] \(.+:\d+: /.test(l))).toBe(true);
  expect((outcome.results.settings.notes as string[] | undefined)?.some((n) => /^cells computed by [12] worker\(s\) of redis:\/\/127\.0\.0\.1:\d+\/? \(queue test-/.test(n))).toBe(true);
  b.child.kill('SIGTERM');
  expect(await new Promise((r) => b.child.once('exit', (code) => r(code)))).toBe(143);
}, 180_000);

test('a stopped worker saves its running cell and takes no other; the sweep finishes on another worker', async () => {
  if (typeof redis === 'string') return;
  const queue = `${redis.url}?queue=test-${process.pid}-graceful`;
  const a = startWorker(queue);
  await a.waitFor((l) => l.msg === 'worker ready');
  const distributed = sweep({ ...options(path.join(dir, 'graceful')), methods: ['sparsegpt'], queue });
  const started = await a.waitFor((l) => l.msg === 'cell started');
  a.child.kill('SIGTERM');
  expect(await new Promise((r) => a.child.once('exit', (code) => r(code)))).toBe(143);
  expect(a.lines.filter((l) => l.msg === 'cell started').map((l) => l.job)).toEqual([started.job]);
  expect(a.lines.filter((l) => l.msg === 'cell saved').map((l) => l.job)).toEqual([started.job]);
  expect(a.lines.some((l) => l.msg === 'worker stopped')).toBe(true);

  const b = startWorker(queue);
  const outcome = await distributed;
  expect(outcome.results.cells.map((c) => [c.level, c.status])).toEqual([[0.3, 'ok'], [0.6, 'ok']]);
  expect(b.lines.filter((l) => l.msg === 'cell saved').map((l) => l.job)).toEqual([expect.not.stringMatching(String(started.job))]);
  b.child.kill('SIGTERM');
  await new Promise((r) => b.child.once('exit', r));
}, 120_000);
