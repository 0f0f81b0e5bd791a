// The calibration / held-out split of a query file: deterministic for a seed, disjoint,
// rows verbatim, stable when rows are appended; `shears queries split` writes both parts
// atomically, never over the input or an existing file, and refuses bad arguments.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { splitQueries, textFraction } from '../../lib/queries';
import { runCli } from '../support/cli';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-split-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const rows = Array.from({ length: 200 }, (_, i) => `query number ${i}: what does ${i * 7} mean?`);

function write(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

test('the same seed gives the same split; the parts are disjoint, cover every row and keep file order', () => {
  const f = write('q.txt', `${rows.join('\n')}\n`);
  const a = splitQueries(f, { heldOut: 0.25, seed: 0 });
  expect(splitQueries(f, { heldOut: 0.25, seed: 0 })).toEqual(a);
  expect([...a.calibration, ...a.heldOut].sort()).toEqual([...rows].sort());
  expect(new Set(a.heldOut).size + new Set(a.calibration).size).toBe(rows.length);
  expect(a.heldOut.every((r) => !a.calibration.includes(r))).toBe(true);
  expect(a.heldOut).toEqual(rows.filter((r) => a.heldOut.includes(r)));
  // Close to the fraction (a binomial draw: 50 expected, sd ~6).
  expect(a.heldOut.length).toBeGreaterThan(30);
  expect(a.heldOut.length).toBeLessThan(70);
  // The rule itself: held out exactly when the row's hash is below the fraction.
  expect(a.heldOut).toEqual(rows.filter((r) => textFraction(0, r) < 0.25));
  const b = splitQueries(f, { heldOut: 0.25, seed: 1 });
  expect(b.heldOut).not.toEqual(a.heldOut);
});

test('appending rows leaves every earlier row on its side; a repeated row lands on one side', () => {
  const f = write('q.txt', rows.slice(0, 120).join('\n'));
  const g = write('more.txt', rows.join('\r\n'));
  const a = splitQueries(f, { heldOut: 0.3, seed: 7 });
  const b = splitQueries(g, { heldOut: 0.3, seed: 7 });
  expect(b.heldOut.filter((r) => rows.indexOf(r) < 120)).toEqual(a.heldOut);
  expect(b.calibration.filter((r) => rows.indexOf(r) < 120)).toEqual(a.calibration);
  const d = splitQueries(write('dup.txt', [...rows, ...rows.slice(0, 10)].join('\n')), { heldOut: 0.3, seed: 7 });
  for (const r of rows.slice(0, 10)) {
    const inHeld = d.heldOut.filter((x) => x === r).length;
    const inCalib = d.calibration.filter((x) => x === r).length;
    expect([inHeld, inCalib].sort()).toEqual([0, 2]);
  }
});

test('JSONL rows (text and chat) are split verbatim; invalid JSON is the reader error naming the file', () => {
  const jsonl = rows.slice(0, 40).map((r, i) => (i % 2 ? JSON.stringify({ text: r }) : JSON.stringify({ messages: [{ role: 'user', content: r }] })));
  const f = write('q.jsonl', jsonl.join('\n'));
  const s = splitQueries(f, { heldOut: 0.5, seed: 3 });
  expect(s.format).toBe('jsonl');
  expect([...s.calibration, ...s.heldOut].sort()).toEqual([...jsonl].sort());
  const bad = write('bad.jsonl', `${jsonl[0]}\n{"text": oops}\n`);
  expect(() => splitQueries(bad, { heldOut: 0.5 })).toThrow(expect.objectContaining({ code: 'E_CALIBRATION', message: expect.stringContaining(bad) }));
});

test('bad fractions, a missing file and an empty part are typed errors', () => {
  const f = write('q.txt', rows.slice(0, 3).join('\n'));
  for (const h of [0, 1, -0.1, 1.5, NaN]) expect(() => splitQueries(f, { heldOut: h })).toThrow(expect.objectContaining({ code: 'E_RANGE', message: expect.stringMatching(/--held-out/) }));
  const missing = path.join(dir, 'nope.txt');
  expect(() => splitQueries(missing, { heldOut: 0.5 })).toThrow(expect.objectContaining({ code: 'E_CALIBRATION', message: expect.stringContaining(missing) }));
  // One row can only go to one side.
  const one = write('one.txt', 'a single query\n');
  expect(() => splitQueries(one, { heldOut: 0.5 })).toThrow(expect.objectContaining({ code: 'E_CALIBRATION', message: expect.stringMatching(/part empty/) }));
});

describe('shears queries split', () => {
  test('writes both parts, leaves the input as it was, and refuses to replace outputs without --force', async () => {
    const text = `${rows.slice(0, 60).join('\n')}\n`;
    const f = write('q.txt', text);
    const calib = path.join(dir, 'calib.txt');
    const held = path.join(dir, 'held.txt');
    const args = ['queries', 'split', '--data', f, '--held-out', '0.25', '--seed', '0', '--out-calib', calib, '--out-held-out', held, '--json'];
    const r = await runCli(args);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const counts = JSON.parse(r.out);
    const c = fs.readFileSync(calib, 'utf8').trimEnd().split('\n');
    const h = fs.readFileSync(held, 'utf8').trimEnd().split('\n');
    expect(counts).toMatchObject({ rows: 60, calibration: c.length, held_out: h.length, format: 'text', seed: 0 });
    const want = splitQueries(f, { heldOut: 0.25, seed: 0 });
    expect(c).toEqual(want.calibration);
    expect(h).toEqual(want.heldOut);
    expect(fs.readFileSync(f, 'utf8')).toBe(text);
    // Nothing else is left beside the outputs (no scratch folder).
    expect(fs.readdirSync(dir).sort()).toEqual(['calib.txt', 'held.txt', 'q.txt']);

    const again = await runCli(args);
    expect(again.code).not.toBe(0);
    expect(again.err).toMatch(/already exists \(use --force/);
    expect((await runCli([...args, '--force'])).code).toBe(0);
  });

  test('refuses an output over the input, the same file twice, and a fraction outside (0, 1), writing nothing', async () => {
    const f = write('q.txt', rows.slice(0, 20).join('\n'));
    const other = path.join(dir, 'x.txt');
    const over = await runCli(['queries', 'split', '--data', f, '--held-out', '0.5', '--out-calib', f, '--out-held-out', other, '--force']);
    expect(over.code).not.toBe(0);
    expect(over.err).toMatch(/refusing to write over the query file/);
    const same = await runCli(['queries', 'split', '--data', f, '--held-out', '0.5', '--out-calib', other, '--out-held-out', other]);
    expect(same.err).toMatch(/the same file/);
    const frac = await runCli(['queries', 'split', '--data', f, '--held-out', '1', '--out-calib', other, '--out-held-out', path.join(dir, 'y.txt')]);
    expect(frac.code).not.toBe(0);
    expect(frac.err).toMatch(/--held-out\) must be a number in \(0, 1\)/);
    const missing = await runCli(['queries', 'split', '--data', path.join(dir, 'none.txt'), '--held-out', '0.5', '--out-calib', other, '--out-held-out', path.join(dir, 'y.txt')]);
    expect(missing.err).toMatch(/none\.txt: cannot read calibration file \(ENOENT\)/);
    expect(fs.readdirSync(dir)).toEqual(['q.txt']);
  });
});
