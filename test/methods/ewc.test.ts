// prune --method ewc end to end on the tiny Llama: fisher's masks at the exact sparsity,
// a recovery on the queries that keeps every pruned weight at zero (the report and the
// weights read back agree), the EWC pull (a larger lambda keeps the kept weights closer to
// the dense ones), typed refusals before any work, and a stop during the recovery that
// leaves nothing behind.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../../lib/errors';
import { scratchBeside } from '../../lib/formats/atomic';
import { ewc } from '../../lib/methods/plugins/ewc';
import { drawCalibration } from '../../lib/prune/calibrate';
import { runPipeline } from '../../lib/prune/pipeline';
import { recoverPruned } from '../../lib/prune/recovery';
import { PhaseClock } from '../../lib/util/clock';
import { runCli } from '../support/cli';
import { loadModel } from '../../lib/formats/load';
import { prune } from '../../lib/prune/run';
import { PruneReport } from '../../lib/prune/report';
import { countZeros, expectStopLeavesNothing, isZero, tempDir } from '../prune/helpers';
import { linearNames, tinyPrune, writeCalibTokens, writeTinyModel } from '../prune/tiny';

let dir: string;
let dense: string;
let calib: string;
let queries: string;
beforeAll(() => {
  dir = tempDir('shears-ewc-');
  dense = writeTinyModel(path.join(dir, 'dense'));
  calib = writeCalibTokens(path.join(dir, 'calib.json'), 2048, 5);
  queries = writeCalibTokens(path.join(dir, 'queries.json'), 2048, 9);
});

const ewcRun = (out: string, extra: Record<string, unknown> = {}) =>
  tinyPrune(dense, calib, path.join(dir, out), { method: 'ewc', queriesTokens: queries, steps: 8, lr: 1e-2, ...extra });

/** Mean |w - w_dense| over the kept (nonzero) weights of the linear layers, and the zero positions must match `ref`'s. */
async function driftFromDense(out: string, ref: string): Promise<number> {
  const [d, o, r] = [await loadModel(dense), await loadModel(out), await loadModel(ref)];
  try {
    let sum = 0;
    let n = 0;
    for (const name of linearNames()) {
      const w = o.tensors.get(name)!;
      const z = r.tensors.get(name)!;
      const x = d.tensors.get(name)!.data;
      for (let i = 0; i < x.length; ++i) {
        if (isZero(w, i) !== isZero(z, i)) throw new Error(`${name}[${i}]: the zeros differ from ${ref}`);
        if (!isZero(w, i)) {
          sum += Math.abs(w.data[i] - x[i]);
          ++n;
        }
      }
    }
    return sum / n;
  } finally {
    for (const m of [d, o, r]) m.close();
  }
}

describe('prune --method ewc', () => {
  let fisher: PruneReport;
  let weak: PruneReport;
  let strong: PruneReport;
  beforeAll(async () => {
    fisher = await prune(tinyPrune(dense, calib, path.join(dir, 'fisher'), { method: 'fisher' }));
    weak = await prune(ewcRun('ewc-weak', { ewcLambda: 0 }));
    strong = await prune(ewcRun('ewc-strong', { ewcLambda: 1e7 }));
  }, 120_000);

  it("prunes fisher's masks at the exact sparsity and records the recovery", async () => {
    expect(weak.achieved_sparsity).toBe(fisher.achieved_sparsity);
    expect(weak.achieved_sparsity).toBe(0.5);
    const r = strong.recovery!;
    expect(r).toMatchObject({ steps: 8, lr: 1e-2, batch: 4, ewc_lambda: 1e7, mask_preserved: true });
    expect(r.losses).toHaveLength(8);
    expect(r.fisher!.sequences).toBe(4);
    expect(r.fisher!.mean).toBeGreaterThan(0);
    expect(r.queries.source).toBe(path.resolve(queries));
    expect(r.pruned_weights).toBe(weak.layers.reduce((a, l) => a + l.pruned, 0));
    // the recovery fits the queries
    expect(weak.recovery!.loss_after).toBeLessThan(weak.recovery!.loss_before);
    expect(fisher.recovery).toBeUndefined();
  });

  it('keeps every pruned weight at zero: the same zeros as fisher, read back from the files', async () => {
    for (const out of ['ewc-weak', 'ewc-strong']) {
      const m = await loadModel(path.join(dir, out));
      try {
        for (const name of linearNames()) {
          const t = m.tensors.get(name)!;
          expect(countZeros(t)).toBe(t.data.length / 2);
        }
      } finally {
        m.close();
      }
      // throws if any zero moved relative to fisher's output
      await driftFromDense(path.join(dir, out), path.join(dir, 'fisher'));
    }
  });

  it('pulls the kept weights toward the dense ones: a larger lambda drifts less', async () => {
    const drift = { fisher: await driftFromDense(path.join(dir, 'fisher'), path.join(dir, 'fisher')), weak: await driftFromDense(path.join(dir, 'ewc-weak'), path.join(dir, 'fisher')), strong: await driftFromDense(path.join(dir, 'ewc-strong'), path.join(dir, 'fisher')) };
    expect(drift.fisher).toBe(0); // fisher keeps the dense values of the kept weights
    expect(drift.weak).toBeGreaterThan(1e-3);
    expect(drift.strong).toBeLessThan(drift.weak / 2);
    expect(weak.recovery!.ewc_penalty_after).toBe(0);
    expect(strong.recovery!.ewc_penalty_after).toBeGreaterThan(0);
  });

  it('keeps F in its own scratch pages past the pipeline (budget 0): the same recovery, and the pages go with release()', async () => {
    const o = ewcRun('never-written', { ewcLambda: 1e7, calibTokens: calib });
    const scratch = scratchBeside(path.join(dir, 'scratch-run'));
    const model = await loadModel(dense);
    const strategy = ewc(undefined, { scratch });
    try {
      const { set } = await drawCalibration(model, o);
      const pipeline = await runPipeline(model, { strategy, sparsity: 0.5, calibration: set, scratch, gradientBudgetBytes: 0 });
      // the pipeline released its own pages; F's are the strategy's, still mapped
      expect(fs.readdirSync(scratch.dir).filter((f) => f.endsWith('.f32'))).toHaveLength(linearNames().length);
      const r = await recoverPruned(model, o, {
        strategy,
        settings: { steps: 8, lr: 1e-2, lambda: 1e7, batch: 4, seed: 0 },
        layers: pipeline.layers.map((l) => l.name),
        calibrationSource: calib,
        clock: new PhaseClock(),
        warn: () => {},
      });
      expect(r.losses).toEqual(strong.recovery!.losses);
      expect(r.ewc_penalty_after).toBe(strong.recovery!.ewc_penalty_after);
      strategy.release();
      expect(fs.readdirSync(scratch.dir)).toEqual([]);
    } finally {
      strategy.release();
      model.close();
      scratch.remove();
    }
  });
});

describe('prune --method ewc refusals and stops', () => {
  it('needs --queries: a typed error naming the option, nothing written', async () => {
    const out = path.join(dir, 'no-queries');
    await expect(prune(tinyPrune(dense, calib, out, { method: 'ewc' }))).rejects.toThrow(ArgumentRangeError);
    await expect(prune(tinyPrune(dense, calib, out, { method: 'ewc' }))).rejects.toThrow(/--queries/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses recovery options for methods that do not recover, and a missing queries file', async () => {
    await expect(prune(tinyPrune(dense, calib, path.join(dir, 'x'), { method: 'fisher', queriesTokens: queries }))).rejects.toThrow(/--queries-tokens apply to methods that recover/);
    await expect(prune(ewcRun('y', { queriesTokens: path.join(dir, 'missing.json') }))).rejects.toThrow(/missing\.json.*cannot read the queries/);
    await expect(prune(ewcRun('y', { steps: 0 }))).rejects.toThrow(/--steps must be a positive integer/);
    await expect(prune(ewcRun('y', { ewcLambda: -1 }))).rejects.toThrow(/--ewc-lambda/);
  });

  it('the CLI: --queries-tokens, the recovery line of the summary; without queries, exit 1 naming --queries', async () => {
    const out = path.join(dir, 'cli');
    const base = ['prune', '--model', dense, '--method', 'ewc', '--sparsity', '0.5', '--calib-tokens', calib, '--calib-samples', '4', '--seq-len', '16', '--out', out];
    const missing = await runCli(base);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/give --queries FILE/);
    const r = await runCli([...base, '--queries-tokens', queries, '--steps', '3', '--lr', '0.01', '--ewc-lambda', '1000']);
    expect(r.err).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/recovered on 4 query windows: 3 steps \(lr 0\.01, EWC lambda 1000\), query loss \d+\.\d+ -> \d+\.\d+, .*mask preserved/);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'prune-report.json'), 'utf8')) as PruneReport;
    expect(report.recovery).toMatchObject({ steps: 3, ewc_lambda: 1000, mask_preserved: true });
  });

  it('a stop during the recovery leaves no output and no scratch', () => expectStopLeavesNothing(ewcRun('stopped'), 'recover', dir));
});
