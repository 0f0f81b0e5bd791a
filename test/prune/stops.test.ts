// Every stop clean: real `shears prune` processes on the demo model, stopped by SIGTERM,
// SIGHUP, SIGINT, SIGKILL or a closed stderr pipe during the run; then a second run
// into the same folder, which must find nothing of the first once it has started, and
// write a complete output. Needs dist/ current (`npm run build:ts`).
// SHEARS_STOP_TRIALS=10 repeats each trial (by hand; the default is one).
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as loader from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { parseScratchName } from '../../lib/util/scratch';
import { CLI, ROOT, tempDir } from './helpers';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
// A SparseGPT run of a few seconds: 4 blocks, each with several progress lines.
const SLOW = ['--method', 'sparsegpt', '--sparsity', '0.5', '--calib', path.join(DEMO, 'calib.txt'), '--calib-samples', '16', '--seq-len', '128'];
const FAST = ['--method', 'magnitude', '--sparsity', '0.5'];
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TRIALS = Number(process.env.SHEARS_STOP_TRIALS ?? 1);

interface Run {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Resolves when stderr has matched `re`. */
  seen: (re: RegExp) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startPrune(out: string, method: string[]): Run {
  const child = spawn(process.execPath, [CLI, 'prune', '--model', DEMO, ...method, '--out', out], { cwd: ROOT });
  let err = '';
  const waiting: { re: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i].re.test(err)) waiting.splice(i, 1)[0].resolve();
  });
  child.stderr.on('error', () => undefined); // a test that closes the pipe on purpose
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const seen = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(err)) return resolve();
      waiting.push({ re, resolve });
      void exit.then(() => (re.test(err) ? resolve() : reject(new Error(`the run ended without printing ${re}:\n${err}`))));
    });
  return { child, stderr: () => err, seen, exit };
}

/** Scratch entries in `dir` owned by `pid`. */
const scratchOf = (dir: string, pid: number) => fs.readdirSync(dir).filter((n) => parseScratchName(n)?.pid === pid);

/** A second run into the same --out: nothing of the first once it has started; a complete output. */
async function secondRun(folder: string, out: string, firstPid: number): Promise<string> {
  const run = startPrune(out, FAST);
  await run.seen(/\] load/); // the first progress line: stale scratch is removed before it
  expect(scratchOf(folder, firstPid)).toEqual([]);
  const { code } = await run.exit;
  expect(run.stderr()).not.toMatch(/shears: (?!warning: removed)/); // no error, at most the cleanup note
  expect(code).toBe(0);
  expect(fs.readdirSync(folder)).toEqual(['out']);
  expect(fs.readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'prune-report.json', 'tokenizer.json', 'tokenizer_config.json']);
  const m = await loader.loadModel(out);
  expect(m.tensors.size).toBeGreaterThan(0);
  m.close();
  return run.stderr();
}

afterEach(() => jest.restoreAllMocks());

const trials = <T>(cases: T[]): T[] => Array.from({ length: TRIALS }, () => cases).flat();

describe('a stopped prune leaves nothing once the next run has started', () => {
  test.each(trials([
    { sig: 'SIGTERM', code: 143 },
    { sig: 'SIGHUP', code: 129 },
    { sig: 'SIGINT', code: 130 },
  ] as const))('$sig during the run: exit code $code, the run removes its own scratch', async ({ sig, code }) => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    const run = startPrune(out, SLOW);
    await run.seen(/block 1\/4/);
    expect(scratchOf(folder, run.child.pid!)).toHaveLength(1); // the run's one scratch folder
    run.child.kill(sig);
    const ended = await run.exit;
    expect(ended.code).toBe(code);
    expect(run.stderr().trimEnd().split('\n').at(-1)).toBe(`shears: interrupted by ${sig}${sig === 'SIGINT' ? ' (Ctrl-C)' : ''}`);
    expect(fs.readdirSync(folder)).toEqual([]);
    const second = await secondRun(folder, out, run.child.pid!);
    expect(second).not.toMatch(/removed/);
  });

  test.each(trials(['SIGKILL']))('%s after a block was offloaded: the next run removes the scratch and says so', async () => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    const run = startPrune(out, SLOW);
    await run.seen(/block 2\/4/);
    const pid = run.child.pid!;
    run.child.kill('SIGKILL');
    expect((await run.exit).signal).toBe('SIGKILL');
    const [left] = scratchOf(folder, pid);
    expect(fs.readdirSync(path.join(folder, left, 'offload')).length).toBeGreaterThan(0); // what the fix is about
    const second = await secondRun(folder, out, pid);
    const note = `removed 1 scratch entry left in ${folder} by stopped runs (process ${pid}, no longer running)`;
    expect(second.split('\n')).toContain(`shears: warning: ${note}`);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8')).notes).toContain(note);
  });

  test.each(trials(['EPIPE']))('a closed stderr pipe (%s): the run stops with 141 and removes its scratch', async () => {
    const folder = tempDir();
    const out = path.join(folder, 'out');
    const run = startPrune(out, SLOW);
    await run.seen(/block 1\/4/);
    run.child.stderr.destroy();
    const ended = await run.exit;
    expect(ended.code).toBe(141);
    expect(fs.readdirSync(folder)).toEqual([]);
    await secondRun(folder, out, run.child.pid!);
  });
});

test('a second signal while stopping: exit 143, nothing left', async () => {
  const folder = tempDir();
  const run = startPrune(path.join(folder, 'out'), SLOW);
  await run.seen(/block 1\/4/);
  run.child.kill('SIGTERM');
  await run.seen(/shears: stopping/);
  run.child.kill('SIGTERM');
  expect((await run.exit).code).toBe(143);
  expect(fs.readdirSync(folder)).toEqual([]);
});

test('a closed stdout after the work is done is no error (shears info | head)', async () => {
  const child = spawn(process.execPath, [CLI, 'info', '--model', DEMO], { cwd: ROOT });
  child.stdout.destroy();
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect({ code, err }).toEqual({ code: 0, err: '' });
});

test.each([
  { out: 'out', files: ['out'] },
  { out: 'out.gguf', files: ['out.gguf', 'out.prune-report.json'] },
])('two runs racing to --out $out: one writes it, the other gets "already exists"', async ({ out, files }) => {
  const folder = tempDir();
  const runs = [startPrune(path.join(folder, out), FAST), startPrune(path.join(folder, out), FAST)];
  const codes = (await Promise.all(runs.map((r) => r.exit))).map((e) => e.code);
  expect(codes.sort()).toEqual([0, 1]);
  const loser = runs.find((r) => /shears: /.test(r.stderr()))!;
  expect(loser.stderr()).toMatch(new RegExp(`^shears: .*${out.replace('.', '\\.')} already exists`, 'm'));
  expect(fs.readdirSync(folder).sort()).toEqual(files);
  const m = await loader.loadModel(path.join(folder, out));
  m.close();
});

test('an abort while the model loads stops at once; the model, once loaded, is closed', async () => {
  // The demo model loads in milliseconds: a loader that takes 500 ms more makes "during loading" certain.
  let closed = false;
  const real = loader.loadModel;
  jest.spyOn(loader, 'loadModel').mockImplementation(async (...args) => {
    const m = await real(...args);
    await delay(500);
    const close = m.close.bind(m);
    m.close = () => ((closed = true), close());
    return m;
  });
  const folder = tempDir();
  const ac = new AbortController();
  const reason = new Error('stop now');
  const started = Date.now();
  const stages: string[] = [];
  const run = prune({
    ...{ model: DEMO, out: path.join(folder, 'out'), method: 'sparsegpt', sparsity: 0.5, calib: path.join(DEMO, 'calib.txt') },
    signal: ac.signal,
    onProgress: (p) => stages.push(p.stage),
  });
  setTimeout(() => ac.abort(reason), 100);
  await expect(run).rejects.toBe(reason);
  expect(Date.now() - started).toBeLessThan(450); // did not wait for the loader
  expect(stages).toEqual(['load']);
  expect(fs.readdirSync(folder)).toEqual([]);
  await delay(600);
  expect(closed).toBe(true);
});
