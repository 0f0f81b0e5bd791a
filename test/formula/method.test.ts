// --method formula end to end on the tiny model (test/prune/tiny.ts): "abs(W)" prunes as
// magnitude does, "abs(W) * xnorm" as Wanda, "abs(W) * abs(grad)" and "square(W) * fisher"
// as the gradient and fisher methods (their gradient pass runs), hdiag gathers X^T X,
// every selection works (row, matrix, global, N:M), and bad formulas are refused before
// any work with nothing written.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../../lib/calibration/sample';
import { FormulaError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { formulaStrategy } from '../../lib/formula/strategy';
import { methodInfo } from '../../lib/methods/registry';
import { PipelineOptions, runPipeline } from '../../lib/prune/pipeline';
import { fisher, gradient, magnitude, Strategy, wanda } from '../../lib/strategies';
import { runCli } from '../support/cli';
import { tempDir, zerosPerRow } from '../prune/helpers';
import { tinyCalibrated, writeCalibTokens } from '../prune/tiny';

let model: string;
let calibration: () => CalibrationSet;
beforeAll(() => ({ model, calibration } = tinyCalibrated(tempDir())));

type Run = Omit<PipelineOptions, 'strategy' | 'calibration'>;

/** The pruned weights of every selected matrix, by name, and the pipeline's notes. */
async function pruned(strategy: Strategy, o: Run): Promise<{ weights: Map<string, Float32Array>; notes: string[]; sparsities: number[] }> {
  const m = await loadModel(model);
  try {
    const r = await runPipeline(m, { strategy, calibration: calibration(), ...o });
    const weights = new Map(r.layers.map((l) => [l.name, Float32Array.from(m.tensors.get(l.name)!.data as Float32Array)]));
    return { weights, notes: r.notes, sparsities: r.layers.map((l) => l.sparsity) };
  } finally {
    m.close();
  }
}

async function expectSameMasks(formula: string, reference: Strategy, o: Run): Promise<string[]> {
  const a = await pruned(formulaStrategy(formula), o);
  const b = await pruned(reference, o);
  expect([...a.weights.keys()]).toEqual([...b.weights.keys()]);
  for (const [name, w] of a.weights) expect(w).toEqual(b.weights.get(name));
  return a.notes;
}

describe('known formulas give the known methods\' masks exactly', () => {
  test.each([
    ['row 50%', { sparsity: 0.5, granularity: 'row' }],
    ['matrix 60%', { sparsity: 0.6, granularity: 'matrix' }],
    ['global 50%', { sparsity: 0.5, granularity: 'global' }],
    ['2:4', { pattern: { n: 2, m: 4 } }],
  ] as [string, Run][])('%s', async (_label, o) => {
    // magnitude needs no activations: its global threshold spans the whole model, the
    // calibrated pipeline's each block; with any other granularity the masks must agree.
    if (o.granularity !== 'global') await expectSameMasks('abs(W)', magnitude(), { granularity: 'row', ...o });
    await expectSameMasks('abs(W) * xnorm', wanda(), o);
  });

  test('grad and fisher run the gradient pass (one-shot) and match the gradient and fisher methods', async () => {
    const notes = await expectSameMasks('abs(W) * abs(grad)', gradient(), { sparsity: 0.5 });
    expect(notes.join(' ')).toMatch(/gradients of the dense model/);
    await expectSameMasks('square(W) * fisher', fisher(), { pattern: { n: 2, m: 4 } });
  });
});

describe('what a formula gathers', () => {
  test('needs follow the inputs: columns always, gradients for grad/fisher, X^T X for hdiag', () => {
    expect(formulaStrategy('abs(W)').needs).toEqual(['columnSumSq']);
    expect(formulaStrategy('abs(W)').collectWeights).toBeUndefined();
    expect(formulaStrategy('abs(W)').collect).toBeUndefined();
    const g = formulaStrategy('W * grad + fisher');
    expect(g.needs).toEqual(['columnSumSq', 'gradient']);
    expect(Object.keys(g.collectWeights!(2, 3, 'x'))).toEqual(['gradient']);
    expect(formulaStrategy('abs(W) * xvar').needs).toEqual(['columnSumSq', 'columnSum']);
    const h = formulaStrategy('square(W) / hdiag');
    expect(h.needs).toEqual(['columnSumSq', 'hessian']);
    expect(Object.keys(h.collect!(4, {}))).toEqual(['hessian']);
  });

  test('an OBS-style formula (square(W) / hdiag) prunes exactly half of every row; xmean, xvar, bias, rowsum, colsum run', async () => {
    for (const src of ['square(W) / hdiag', 'abs(W) * sqrt(xvar + square(xmean)) + bias * 0 + abs(W) / rowsum + abs(W) / colsum']) {
      const r = await pruned(formulaStrategy(src), { sparsity: 0.5 });
      for (const s of r.sparsities) expect(s).toBe(0.5);
    }
  });

  test('the same bits twice', async () => {
    const src = 'abs(W) * sqrt(xnorm) + log(colsum)';
    const a = await pruned(formulaStrategy(src), { sparsity: 0.5 });
    const b = await pruned(formulaStrategy(src), { sparsity: 0.5 });
    expect(a.weights).toEqual(b.weights);
  });
});

describe('the method and its refusals', () => {
  test('formula is implemented and takes --score; checkOptions parses it', () => {
    const m = methodInfo('formula');
    expect(m.implemented).toBe(true);
    expect(m.options).toEqual(['score']);
    expect(() => m.checkOptions!({ score: 'abs(W) * x' }, { sparsity: 0.5 })).toThrow(FormulaError);
    expect(() => m.checkOptions!({}, { sparsity: 0.5 })).toThrow(/method formula needs its score: give --score/);
    expect(() => m.checkOptions!({ score: 'abs(W)' }, { sparsity: 0.5 })).not.toThrow();
  });

  test('prune CLI: a bad formula, an unknown name, an empty one: a clear error before any work, nothing written', async () => {
    const dir = tempDir();
    const calib = writeCalibTokens(path.join(dir, 'calib.json'));
    for (const [score, message] of [
      ['abs(W) * x', /unknown name 'x'.*\n  abs\(W\) \* x\n {11}\^/],
      ['abs(W', /expected '\)'/],
      ['', /the formula is empty/],
    ] as [string, RegExp][]) {
      const out = path.join(dir, `out-${score.length}`);
      const r = await runCli(['prune', '--model', model, '--method', 'formula', '--score', score, '--sparsity', '0.5', '--calib-tokens', calib, '--out', out]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  test('prune CLI: a good formula prunes and writes', async () => {
    const dir = tempDir();
    const calib = writeCalibTokens(path.join(dir, 'calib.json'));
    const out = path.join(dir, 'out');
    const r = await runCli(['prune', '--model', model, '--method', 'formula', '--score', 'abs(W) * sqrt(xnorm)', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', out]);
    expect(r.err).not.toMatch(/shears:/);
    expect(r.code).toBe(0);
    const m = await loadModel(out);
    try {
      const t = m.tensors.get('blocks.0.mlp.up.weight')!;
      for (const z of zerosPerRow(t)) expect(z).toBe(t.shape[1] / 2);
    } finally {
      m.close();
    }
  });

  test('prune --stats FILE: the formula decides what the file must hold; without calibration data the error says so', async () => {
    const dir = tempDir();
    const calib = writeCalibTokens(path.join(dir, 'calib.json'));
    const stats = path.join(dir, 'imp.safetensors');
    expect((await runCli(['stats', '--model', model, '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--gradients', '--out', stats])).code).toBe(0);
    const run = (score: string, out: string, extra = ['--stats', stats]) =>
      runCli(['prune', '--model', model, '--method', 'formula', '--score', score, '--sparsity', '0.5', ...extra, '--out', path.join(dir, out)]);
    for (const [score, out] of [['abs(W) * xnorm', 'a'], ['abs(W) * abs(grad) + xvar', 'b']]) {
      const r = await run(score, out);
      expect(r.err).not.toMatch(/shears:/);
      expect(r.code).toBe(0);
    }
    const h = await run('square(W) / hdiag', 'c');
    expect(h.code).not.toBe(0);
    expect(h.err).toMatch(/method formula needs .*which this shears file does not hold/);
    expect(fs.existsSync(path.join(dir, 'c'))).toBe(false);
    const none = await run('abs(W) * xnorm', 'd', []);
    expect(none.err).toMatch(/needs calibration data: give --calib FILE or --calib-tokens IDS\.json \(or --stats FILE from shears stats\)/);
  });
});
