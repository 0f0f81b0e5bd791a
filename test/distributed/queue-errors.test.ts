// What goes wrong around a distributed sweep gets a clear error, promptly: a bad or
// unreachable queue, a worker that does not see the sweep's files (or sees other ones),
// a job of another layout, a cell no worker can compute; and a stopped coordinator takes
// its waiting cells off the queue.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { Queue } from 'bullmq';
import pino from 'pino';

import { CELL_JOB_VERSION, CellJob, checkCellJob, cellJobOptions, sweepKey } from '../../lib/distributed/cell-job';
import { connectionOf, parseQueueUrl } from '../../lib/distributed/connection';
import { runCellsOnQueue } from '../../lib/distributed/coordinator';
import { runWorker } from '../../lib/distributed/worker';
import { SweepStore } from '../../lib/sweep/store';
import { ArgumentRangeError, QueueError } from '../../lib/errors';
import { cacheSettings } from '../../lib/sweep/cache-settings';
import { sweep, SweepRunOptions } from '../../lib/sweep/run';
import { runCli } from '../support/cli';
import { startTestRedis, TestRedis } from '../support/redis';
import { ROOT } from '../prune/helpers';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-queue-errors-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const options = (out: string): SweepRunOptions => ({
  model: DEMO,
  methods: ['magnitude', 'wanda'],
  levels: [0.5],
  calib: path.join(DEMO, 'calib.txt'),
  calibSamples: 4,
  seqLen: 32,
  eval: path.join(DEMO, 'eval.txt'),
  maxWindows: 1,
  out,
});

/** A local port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('queue URLs', () => {
  test('parsed, with the password hidden and the queue name taken out', () => {
    const t = parseQueueUrl('redis://user:secret@cache.internal:6380/2?queue=team-a');
    expect(t).toEqual({ url: 'redis://user:secret@cache.internal:6380/2', display: 'redis://user:***@cache.internal:6380/2 (queue team-a)', name: 'team-a' });
    expect(parseQueueUrl('rediss://h:1').name).toBe('shears-sweep-cells');
  });

  test.each([
    ['localhost:6379', /--queue expects redis:\/\/HOST:PORT/],
    ['http://localhost:6379', /--queue expects redis:\/\/HOST:PORT \(or rediss:\/\/ for TLS\), got 'http/],
    ['redis://h:1?queue=a:b', /queue name 'a:b' may hold only/],
  ])('%s is refused', (url, message) => {
    expect(() => parseQueueUrl(url)).toThrow(ArgumentRangeError);
    expect(() => parseQueueUrl(url)).toThrow(message);
  });

  test('the CLI: an unreachable Redis is an error naming it, before any cell, and a bad --lock-seconds too', async () => {
    const port = await closedPort();
    const out = path.join(dir, 'unreachable');
    const t0 = Date.now();
    const r = await runCli(['sweep', '--model', DEMO, '--methods', 'magnitude', '--levels', '0.5', '--eval', path.join(DEMO, 'eval.txt'), '--max-windows', '1', '--out', out, '--queue', `redis://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`shears: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(fs.existsSync(path.join(out, 'cells', 'magnitude_unstructured_0.5.json'))).toBe(false);
    const w = await runCli(['worker', '--queue', `redis://127.0.0.1:${port}`]);
    expect(w.code).toBe(1);
    expect(w.err).toContain(`shears: cannot reach Redis at redis://127.0.0.1:${port}`);
    const lock = await runCli(['worker', '--queue', `redis://127.0.0.1:${port}`, '--lock-seconds', '0']);
    expect(lock.err).toContain('--lock-seconds must be in [1, 3600], got 0');
  }, 60_000);
});

describe("a worker's checks of a job", () => {
  const job = (o: SweepRunOptions): CellJob => ({ version: CELL_JOB_VERSION, options: cellJobOptions(o), spec: { method: 'magnitude', pattern: 'unstructured', level: 0.5 }, index: 1, cells: 1, sweepKey: sweepKey(o) });

  test('a sweep folder the coordinator opened passes; the payload holds absolute paths and no run flags', () => {
    const o = { ...options(path.join(dir, 'ok')), resume: true, queue: 'redis://h:1' };
    fs.mkdirSync(o.out, { recursive: true });
    fs.writeFileSync(path.join(o.out, 'sweep.json'), JSON.stringify(cacheSettings(o)));
    const j = checkCellJob(job(o), 'w:1');
    expect(j.options.out).toBe(path.resolve(o.out));
    expect(j.options).not.toHaveProperty('resume');
    expect(j.options).not.toHaveProperty('queue');
  });

  test('missing files, another checkpoint, a folder it cannot read, another layout: errors naming them', () => {
    const o = options(path.join(dir, 'bad'));
    fs.mkdirSync(o.out, { recursive: true });
    expect(() => checkCellJob({ ...job(o), version: 99 }, 'w:1')).toThrow(/a job of another layout \(version 99; this shears reads 1\)/);
    expect(() => checkCellJob(job({ ...o, queries: path.join(dir, 'nowhere.txt') }), 'w:1')).toThrow(
      `worker w:1: --queries ${path.join(dir, 'nowhere.txt')} does not exist on this machine: workers need the sweep's files at the same paths (a shared filesystem)`,
    );
    expect(() => checkCellJob(job(o), 'w:1')).toThrow(new RegExp(`cannot read ${path.join(o.out, 'sweep.json')}.*shares\\?`));
    fs.writeFileSync(path.join(o.out, 'sweep.json'), JSON.stringify({ ...cacheSettings(o), model_files: ['model.safetensors:1:2'] }));
    expect(() => checkCellJob(job(o), 'w:1')).toThrow(QueueError);
    expect(() => checkCellJob(job(o), 'w:1')).toThrow(/started with other settings than this machine sees \(model_files\)/);
  });
});

describe('with a Redis', () => {
  let redis: TestRedis | string;
  beforeAll(async () => {
    redis = await startTestRedis();
    if (typeof redis === 'string') console.warn(`skipping: ${redis}`);
  });
  afterAll(async () => typeof redis !== 'string' && redis.stop());

  test('a stopped coordinator takes its waiting cells off the queue and keeps what is saved', async () => {
    if (typeof redis === 'string') return;
    const url = `${redis.url}?queue=test-${process.pid}-stop`;
    const ac = new AbortController();
    const o = { ...options(path.join(dir, 'stopped')), queue: url, signal: ac.signal };
    const run = sweep({ ...o, onProgress: (p) => p.detail?.endsWith('cells queued on ' + parseQueueUrl(url).display) && ac.abort(new Error('stopped by the test')) });
    await expect(run).rejects.toThrow('stopped by the test');
    const queue = new Queue(parseQueueUrl(url).name, { connection: connectionOf(parseQueueUrl(url)) });
    try {
      expect(await queue.getJobCounts('waiting', 'active', 'completed', 'failed')).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0 });
    } finally {
      await queue.close();
    }
    expect(fs.existsSync(path.join(o.out, 'dense.json'))).toBe(true);
    expect(fs.readdirSync(path.join(o.out, 'cells'))).toEqual([]);
  }, 60_000);

  test('a cell no worker can compute becomes an NA error cell with the reason, saved for --resume', async () => {
    if (typeof redis === 'string') return;
    const queue = parseQueueUrl(`${redis.url}?queue=test-${process.pid}-failing`);
    // A folder no sweep opened (no sweep.json): every worker refuses its cells.
    const o = options(path.join(dir, 'unopened'));
    const store = new SweepStore(o.out);
    fs.mkdirSync(store.cellsDir, { recursive: true });
    const stop = new AbortController();
    const worker = runWorker({ queue, signal: stop.signal, log: pino({ level: 'silent' }) });
    try {
      const spec = { method: 'magnitude', pattern: 'unstructured' as const, level: 0.5 };
      const r = await runCellsOnQueue({ queue, options: o, store, cells: [spec], cached: [undefined], onProgress: () => {} });
      expect(r.computed).toBe(1);
      expect(r.cells[0]).toMatchObject({ ...spec, status: 'na', error: true, error_name: 'QueueError' });
      expect(r.cells[0].reason).toMatch(new RegExp(`^failed on the workers \\(3 attempts\\): worker .+:\\d+: cannot read ${path.join(o.out, 'sweep.json')}`));
      expect(store.readCell(spec)).toEqual(r.cells[0]);
    } finally {
      stop.abort();
      await worker;
    }
  }, 60_000);
});
