// What a new user meets first in the CLI (issue 9, items 6-11, 13, 15): --version, help
// without repeated defaults, lengths past the context refused, --out names that are not
// outputs refused, messages in the CLI's option names, and the notes and warnings that
// explain a run (N:M tail groups, calibration windows that repeat, sparsity rounded down).
// Ctrl-C's exit code 130 is covered by test/prune/stops.test.ts (real processes).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { buildProgram } from '../../lib/cli/main';
import { runCli } from '../support/cli';
import { ROOT, tempDir } from '../prune/helpers';
import { writeCalibTokens, writeTinyModel } from '../prune/tiny';

const DEMO = path.join(ROOT, 'assets', 'demo-model');
let dir: string;
let model: string;
let calib: string;
beforeAll(() => {
  dir = tempDir('shears-cli-');
  model = writeTinyModel(path.join(dir, 'tiny')); // context 128, rows of 16 (hidden) and 24 (intermediate)
  calib = writeCalibTokens(path.join(dir, 'calib.json'));
});

const report = (out: string) => JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8')) as { notes: string[]; achieved_sparsity: number; calibration: { notes: string[] } };

test('--version prints the version of package.json', async () => {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const r = await runCli(['--version']);
  expect(r).toMatchObject({ code: 0, out: `${version}\n`, err: '' });
});

test('no help text says its default twice', () => {
  const program = buildProgram();
  for (const c of [program, ...program.commands]) {
    const help = c.helpInformation();
    expect(help).not.toMatch(/\(default[^)]*\)\s*\(default/);
  }
  const generate = program.commands.find((c) => c.name() === 'generate')!.helpInformation();
  expect(generate).toMatch(/--max-tokens <n>.*\(default: 64\)/s);
});

describe('lengths past the context length are refused, as prune refuses --seq-len', () => {
  test('eval --seq-len', async () => {
    const r = await runCli(['eval', '--model', model, '--tokens', calib, '--seq-len', '200']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^shears: --seq-len 200 exceeds the model's context length 128 \\(${model}\\)`));
  });

  test('generate --max-tokens: the prompt plus the tokens must fit', async () => {
    const r = await runCli(['generate', '--model', DEMO, '--max-tokens', '300']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the prompt \(1 token\) plus maxTokens \(--max-tokens\) 300 exceed the model's context length 256: ask for at most 255 tokens/);
    const ok = await runCli(['generate', '--model', DEMO, '--max-tokens', '3']);
    expect(ok.code).toBe(0);
    expect(ok.out.length).toBeGreaterThan(1);
  });
});

test('eval messages name the CLI options', async () => {
  const zero = await runCli(['eval', '--model', model, '--tokens', calib, '--seq-len', '16', '--max-windows', '0']);
  expect(zero.err).toMatch(/maxWindows \(--max-windows\) must be a positive integer, got 0/);
  const short = await runCli(['eval', '--model', model, '--tokens', writeCalibTokens(path.join(dir, 'ten.json'), 10), '--seq-len', '16']);
  expect(short.err).toMatch(/needs at least one window of 16 tokens \(seqLen, --seq-len\), got 10 tokens/);
});

describe('--out names a directory or a .gguf file', () => {
  test.each(['x.safetensors', 'x.bin', 'X.PT'])('prune and convert refuse --out %s and create nothing', async (name) => {
    const out = path.join(dir, name);
    for (const args of [
      ['prune', '--model', model, '--method', 'magnitude', '--sparsity', '0.5', '--out', out],
      ['convert', '--model', model, '--out', out],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`--out ${out} names a`);
      expect(r.err).toMatch(/--out takes a directory for Hugging Face output .* or a file ending in \.gguf/);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});

test('an N:M pattern on rows that are not a multiple of M: a warning line and a report note', async () => {
  const out = path.join(dir, 'nm');
  const r = await runCli(['prune', '--model', model, '--method', 'magnitude', '--pattern', '2:3', '--out', out]);
  expect(r.code).toBe(0);
  const warning = /pattern 2:3 on rows whose length is not a multiple of 3: 16 \(last group 1 weight, 0 pruned\)\./;
  expect(r.err).toMatch(new RegExp(`shears: warning: ${warning.source}`));
  const rep = report(out);
  expect(rep.notes.some((n) => warning.test(n))).toBe(true);
  // Rows of 16 (q, k, v, o, gate, up: 5 full groups and a kept tail) prune 5 of 16; rows of 24 prune 8 of 24.
  expect(rep.achieved_sparsity).toBeLessThan(1 - 2 / 3);
});

test('calibration windows that repeat the data: a warning on the terminal and a note', async () => {
  const out = path.join(dir, 'reuse');
  // 64 windows of 16 tokens = 1024 tokens from a 512-token file.
  const args = ['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '64', '--seq-len', '16'];
  const r = await runCli([...args, '--out', out]);
  expect(r.code).toBe(0);
  const warning = /calibration windows repeat: 64 windows of 16 tokens \(1024 tokens\) were drawn from the 512 tokens of .*calib\.json, so each token is used about 2\.0 times over/;
  expect(r.err).toMatch(new RegExp(`shears: warning: ${warning.source}`));
  expect(report(out).calibration.notes.some((n) => warning.test(n))).toBe(true);
  const fits = await runCli([...args.slice(0, -4), '--calib-samples', '16', '--seq-len', '16', '--out', path.join(dir, 'fits')]);
  expect(fits.code).toBe(0);
  expect(fits.err).not.toMatch(/windows repeat/);
});

test('sparsity below the request (rounded down per row) is explained in a note', async () => {
  const out = path.join(dir, 'low');
  const r = await runCli(['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.1', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', out]);
  expect(r.code).toBe(0);
  const rep = report(out);
  // floor(0.1 x 16) = 1 of 16 and floor(0.1 x 24) = 2 of 24 per row.
  expect(rep.notes.find((n) => n.startsWith('achieved sparsity'))).toMatch(
    new RegExp(
      `^achieved sparsity ${rep.achieved_sparsity.toFixed(4)} is below the requested 0.1: each row prunes floor\\(0.1 x its size\\) weights, .*` +
        `matrices with rows of 16: 0.0625; matrices with rows of 24: 0.0833`,
    ),
  );
  expect(r.err).toMatch(/shears: warning: achieved sparsity/);
  const exact = await runCli(['prune', '--model', model, '--method', 'magnitude', '--sparsity', '0.5', '--out', path.join(dir, 'exact')]);
  expect(report(path.join(dir, 'exact')).notes.some((n) => n.startsWith('achieved sparsity'))).toBe(false);
  expect(exact.code).toBe(0);
});

test('sparsegpt with an M that does not divide its 128-column blocks is refused before any work', async () => {
  const out = path.join(dir, 'sg');
  const r = await runCli(['prune', '--model', model, '--method', 'sparsegpt', '--pattern', '2:3', '--calib-tokens', calib, '--out', out]);
  expect(r.code).toBe(1);
  expect(r.err).toBe('shears: --pattern 2:3 with sparsegpt: SparseGPT prunes N:M inside blocks of 128 columns, so M must divide 128 (for example 2:4 or 4:8)\n');
  expect(fs.existsSync(out)).toBe(false);
});
