// Scratch ownership and stale cleanup (lib/util/scratch.ts), publishing without
// clobbering (lib/formats/publish.ts via writeAtomically), symlinked outputs, and write
// failures as OutputErrors naming the output folder (lib/formats/atomic.ts).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { OutputError, writeAtomically } from '../../lib/formats/atomic';
import { publishTogether } from '../../lib/prune/output';
import { prune } from '../../lib/prune/run';
import { writeFileAtomic } from '../../lib/report/atomic';
import { SweepStore } from '../../lib/sweep/store';
import {
  currentOwner,
  describeStale,
  ownerState,
  parseScratchName,
  processStart,
  removeStaleScratch,
  Scratch,
  ScratchOwner,
  scratchPrefix,
} from '../../lib/util/scratch';
import { runCli } from '../support/cli';
import { tempDir } from './helpers';

// The module object itself: lib/ reads its functions through it at call time, so spies on it take effect.
const nodeFs: typeof fs = require('node:fs');
const DEMO = path.resolve(__dirname, '..', '..', 'assets', 'demo-model');
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The error `p` rejects with (an Error saying so if it resolves). */
const failure = (p: Promise<unknown>) => p.then(() => new Error('did not fail'), (e: unknown) => e as Error);
const scratchIn = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.shears-tmp'));

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

function errno(code: string, syscall: string, p?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${code === 'ENOSPC' ? 'no space left on device' : 'failed'}, ${syscall}${p ? ` '${p}'` : ''}`) as NodeJS.ErrnoException;
  Object.assign(e, { code, syscall, path: p });
  return e;
}

afterEach(() => jest.restoreAllMocks());

describe('scratch ownership', () => {
  test('the name records pid, start time, host and boot; it parses back', () => {
    const me = currentOwner();
    expect(me.pid).toBe(process.pid);
    if (fs.existsSync('/proc/self/stat')) expect(me.start).toMatch(/^\d+$/);
    const s = Scratch.create(tempDir());
    try {
      expect(path.basename(s.dir).startsWith(scratchPrefix())).toBe(true);
      expect(parseScratchName(path.basename(s.dir))).toEqual(me);
      expect(ownerState(parseScratchName(path.basename(s.dir))!)).toBe('alive');
    } finally {
      s.remove();
    }
    expect(fs.existsSync(s.dir)).toBe(false);
    expect(parseScratchName('.shears-tmp-offload-abc123')).toBeUndefined(); // older versions: no owner, never touched
  });

  test('gone: exited pid, same pid started at another time, another boot; unknown: another host', () => {
    const me = currentOwner();
    expect(ownerState({ ...me, pid: deadPid() })).toBe('gone');
    expect(ownerState({ ...me, host: 'deadbeef' === me.host ? 'feedface' : 'deadbeef' })).toBe('unknown');
    if (me.start) {
      // The parent process is alive; a different start time means the pid was reused.
      const parent: ScratchOwner = { ...me, pid: process.ppid, start: processStart(process.ppid) };
      expect(ownerState(parent)).toBe('alive');
      expect(ownerState({ ...parent, start: String(Number(parent.start) + 1) })).toBe('gone');
    }
    if (me.boot) expect(ownerState({ ...me, boot: me.boot === '00000000' ? '11111111' : '00000000' })).toBe('gone');
  });

  test('a new run removes only scratch whose owner is gone, and says so', async () => {
    const dir = tempDir();
    const me = currentOwner();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await new Promise((r) => sleeper.once('spawn', r));
      const live: ScratchOwner = { ...me, pid: sleeper.pid!, start: processStart(sleeper.pid!) };
      const dead: ScratchOwner = { ...me, pid: deadPid() };
      const other: ScratchOwner = { ...dead, host: me.host === 'deadbeef' ? 'feedface' : 'deadbeef' };
      const make = (o: ScratchOwner, tag: string, file = false) => {
        const p = path.join(dir, `${scratchPrefix(o)}${tag}`);
        if (file) fs.writeFileSync(p, 'x');
        else {
          fs.mkdirSync(p);
          fs.writeFileSync(path.join(p, 'block.bin'), 'x');
        }
        return path.basename(p);
      };
      const deadDir = make(dead, 'aaaaaa');
      const deadFile = make(dead, 'bbbbbb', true);
      const keep = [make(live, 'cccccc'), make(other, 'dddddd'), '.shears-tmp-offload-eeeeee', 'out'].sort();
      fs.mkdirSync(path.join(dir, '.shears-tmp-offload-eeeeee'));
      fs.mkdirSync(path.join(dir, 'out'));
      const removed = removeStaleScratch(dir);
      expect(removed.map((r) => path.basename(r.path)).sort()).toEqual([deadDir, deadFile].sort());
      expect(fs.readdirSync(dir).sort()).toEqual(keep);
      expect(describeStale(removed, dir)).toBe(`removed 2 scratch entries left in ${dir} by stopped runs (process ${dead.pid}, no longer running)`);
      expect(describeStale([], dir)).toBeUndefined();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

test("a sweep's folder: open() removes temporary files of stopped runs and says so", () => {
  const dir = tempDir();
  const store = new SweepStore(dir);
  fs.mkdirSync(store.cellsDir, { recursive: true });
  const dead = { ...currentOwner(), pid: deadPid() };
  const left = path.join(store.cellsDir, `${scratchPrefix(dead)}0123abcd`);
  fs.writeFileSync(left, '{"half": ');
  const notes = store.open({ a: 1 }, {});
  expect(notes).toEqual([`removed 1 scratch entry left in ${store.cellsDir} by stopped runs (process ${dead.pid}, no longer running)`]);
  expect(fs.readdirSync(store.cellsDir)).toEqual([]);
});

test('shears convert removes scratch of a stopped run beside its output, in one stderr line', async () => {
  const dir = tempDir();
  const dead = { ...currentOwner(), pid: deadPid() };
  fs.mkdirSync(path.join(dir, `${scratchPrefix(dead)}abcdef`));
  const r = await runCli(['convert', '--model', DEMO, '--out', path.join(dir, 'demo.gguf')]);
  expect(r.code).toBe(0);
  expect(r.err).toBe(`shears: warning: removed 1 scratch entry left in ${dir} by stopped runs (process ${dead.pid}, no longer running)\n`);
  expect(fs.readdirSync(dir)).toEqual(['demo.gguf']);
});

describe('publishing never clobbers', () => {
  test('two writers racing to one file: one wins whole, the other gets "already exists"', async () => {
    const target = path.join(tempDir(), 'model.gguf');
    const writer = (text: string, ms: number) =>
      writeAtomically(target, 'file', {}, async (tmp) => {
        fs.writeFileSync(tmp, text.slice(0, 3));
        await delay(ms); // both pass the up-front check before either publishes
        fs.appendFileSync(tmp, text.slice(3));
        return text;
      });
    const results = await Promise.allSettled([writer('first writer', 50), writer('second writer', 150)]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'first writer' });
    expect(results[1].status).toBe('rejected');
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toMatch(/model\.gguf already exists/);
    expect(fs.readFileSync(target, 'utf8')).toBe('first writer');
    expect(scratchIn(path.dirname(target))).toEqual([]);
  });

  test('two writers racing to one directory: the same', async () => {
    const target = path.join(tempDir(), 'out');
    const writer = (text: string, ms: number) =>
      writeAtomically(target, 'dir', {}, async (tmp) => {
        await delay(ms);
        fs.writeFileSync(path.join(tmp, 'config.json'), text);
      });
    const results = await Promise.allSettled([writer('a', 50), writer('b', 150)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(OutputError);
    expect(fs.readFileSync(path.join(target, 'config.json'), 'utf8')).toBe('a');
    expect(fs.readdirSync(path.dirname(target))).toEqual(['out']);
  });

  test('where the filesystem has no hard links, the name is claimed first: a taken name still refuses', async () => {
    jest.spyOn(nodeFs, 'linkSync').mockImplementation((from) => {
      throw errno('EPERM', 'link', String(from));
    });
    const target = path.join(tempDir(), 'model.gguf');
    const writer = (text: string, ms: number) =>
      writeAtomically(target, 'file', {}, async (tmp) => {
        await delay(ms);
        fs.writeFileSync(tmp, text);
      });
    const results = await Promise.allSettled([writer('first', 50), writer('second', 150)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/model\.gguf already exists/);
    expect(fs.readFileSync(target, 'utf8')).toBe('first');
    expect(scratchIn(path.dirname(target))).toEqual([]);
  });

  test('a model and its report are published together: if the report is taken meanwhile, the model is taken back', async () => {
    const dir = tempDir();
    const model = path.join(dir, 'x.gguf');
    const report = path.join(dir, 'x.prune-report.json');
    const scratch = Scratch.create(dir);
    try {
      const run = publishTogether([{ path: model, kind: 'file' }, { path: report, kind: 'file' }], {}, scratch, async (staged) => {
        fs.writeFileSync(staged[0], 'model');
        fs.writeFileSync(staged[1], 'report');
        fs.writeFileSync(report, 'another run'); // appears after the up-front check
      });
      await expect(run).rejects.toThrow(/x\.prune-report\.json already exists/);
    } finally {
      scratch.remove();
    }
    expect(fs.readdirSync(dir)).toEqual(['x.prune-report.json']);
    expect(fs.readFileSync(report, 'utf8')).toBe('another run');
  });

  test('with force a file and a directory are replaced whole', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'm.gguf');
    const out = path.join(dir, 'out');
    fs.writeFileSync(file, 'old');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'stale.txt'), 'old');
    await writeAtomically(file, 'file', { force: true }, async (tmp) => fs.writeFileSync(tmp, 'new'));
    await writeAtomically(out, 'dir', { force: true }, async (tmp) => fs.writeFileSync(path.join(tmp, 'config.json'), 'new'));
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(fs.readdirSync(out)).toEqual(['config.json']);
    expect(fs.readdirSync(dir).sort()).toEqual(['m.gguf', 'out']);
  });
});

describe('symbolic links as outputs are refused, force or not', () => {
  test.each([false, true])('force %s: a dangling link and a link to a directory', async (force) => {
    const dir = tempDir();
    const dangling = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'nowhere'), dangling);
    const elsewhere = path.join(dir, 'precious');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'keep.txt'), 'keep');
    const link = path.join(dir, 'link');
    fs.symlinkSync(elsewhere, link);
    const write = async (tmp: string) => fs.writeFileSync(path.join(tmp, 'config.json'), '{}');
    await expect(writeAtomically(dangling, 'dir', { force }, write)).rejects.toThrow(
      new OutputError(`${dangling} is a symbolic link (to ${path.join(dir, 'nowhere')}, which does not exist); shears neither writes through links nor replaces them: give the real path, or remove the link`),
    );
    await expect(writeAtomically(link, 'dir', { force }, write)).rejects.toThrow(/link is a symbolic link \(to .*precious\)/);
    await expect(prune({ model: DEMO, out: dangling, method: 'magnitude', sparsity: 0.5, force })).rejects.toThrow(/dangling is a symbolic link/);
    expect(fs.readdirSync(elsewhere)).toEqual(['keep.txt']);
    expect(fs.readlinkSync(link)).toBe(elsewhere);
    expect(fs.readdirSync(dir).sort()).toEqual(['dangling', 'link', 'precious']);
  });
});

describe('write failures are OutputErrors naming the output and its folder', () => {
  test.each([
    ['mkdtemp', 'EACCES'],
    ['mkdtemp', 'EROFS'],
    ['write', 'ENOSPC'],
    ['link', 'EROFS'],
    ['rename', 'EACCES'],
  ])('%s fails with %s', async (syscall, code) => {
    const dir = tempDir();
    const target = path.join(dir, 'm.gguf');
    if (syscall === 'mkdtemp')
      jest.spyOn(nodeFs, 'mkdtempSync').mockImplementation((prefix) => {
        throw errno(code, 'mkdtemp', `${String(prefix)}XXXXXX`);
      });
    if (syscall === 'link')
      jest.spyOn(nodeFs, 'linkSync').mockImplementation((from) => {
        throw errno(code, 'link', String(from));
      });
    if (syscall === 'rename')
      jest.spyOn(nodeFs, 'renameSync').mockImplementation((from) => {
        throw errno(code, 'rename', String(from));
      });
    const err = await failure(writeAtomically(target, 'file', { force: syscall === 'rename' }, async (tmp) => {
      if (syscall === 'write') throw errno(code, 'write');
      fs.writeFileSync(tmp, 'data');
    }));
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toMatch(new RegExp(`^cannot write ${target} \\(in ${dir}\\): ${code}: `));
    expect(err.message).not.toMatch(/shears-tmp/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('prune() on a full disk: OutputError naming --out and its folder, nothing left', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out');
    jest.spyOn(nodeFs, 'writeSync').mockImplementation(() => {
      throw errno('ENOSPC', 'write');
    });
    const err = await failure(prune({ model: DEMO, out, method: 'magnitude', sparsity: 0.5 }));
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toBe(`cannot write ${out} (in ${dir}): ENOSPC: no space left on device`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a report file that cannot be written: OutputError naming it', async () => {
    const dir = tempDir();
    jest.spyOn(nodeFs.promises, 'writeFile').mockRejectedValue(errno('ENOSPC', 'write'));
    const file = path.join(dir, 'results.json');
    const err = await failure(writeFileAtomic(file, '{}'));
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toBe(`cannot write ${file} (in ${dir}): ENOSPC: no space left on device`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
