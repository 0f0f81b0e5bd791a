// `shears demo`: the main job on the embedded demo model (assets/demo-model, trained by
// scripts/demo-model/ on the Brown corpus), with no download: every implemented method
// at the default sparsity levels and at 2:4 and 4:8, calibrated on the model's query-like
// calibration lines, evaluated on its held-out text and queries, rendered as a report.
import * as path from 'node:path';

import { Command } from 'commander';

import { BackendRequest } from '../../backend';
import { METHODS } from '../../methods/registry';
import { packageRoot } from '../../native/binding';
import type { SweepOptions } from '../../sweep/options';
import { sweep, SweepProgress } from '../../sweep/run';
import { cellLabel } from '../../sweep/progress';
import { summaryTable } from '../../sweep/summary';
import { backendOption } from '../parse';
import { interruptSignal, progressSink } from '../progress';

/** The demo's sweep: every implemented method on the embedded model (its own files). */
export function demoSweep(assets: string): Pick<SweepOptions, 'model' | 'methods' | 'methodLevels' | 'patterns' | 'calib' | 'calibSamples' | 'seqLen' | 'eval' | 'maxWindows' | 'queries'> {
  // formula scores by the user's --score (shears paper gives it the searched winner).
  const methods = METHODS.filter((m) => m.implemented && m.name !== 'formula');
  return {
    model: assets,
    methods: methods.map((m) => m.name),
    // The methods that train or search take tens of seconds a cell: 50% and N:M only.
    methodLevels: Object.fromEntries(methods.filter((m) => m.slow).map((m) => [m.name, [0.5]])),
    patterns: ['unstructured', '2:4', '4:8'],
    // The calibration lines are short queries (query-aware continues them; ewc recovers
    // on them): they are packed, then 32 windows of 128 tokens are drawn (the papers'
    // 128 x 2048 would be far more than the model needs).
    calib: path.join(assets, 'calib.txt'),
    calibSamples: 32,
    seqLen: 128,
    eval: path.join(assets, 'eval.txt'),
    maxWindows: 16,
    queries: path.join(assets, 'queries.txt'),
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('prune the embedded demo model with every implemented method at every default level, and write the report')
    .option('--out <dir>', 'output folder', 'shears-demo')
    .option('--resume', 'finish an interrupted demo run in --out')
    .option('--force', 'discard a previous run in --out')
    .addOption(backendOption())
    .action(async (opts: { out: string; resume?: boolean; force?: boolean; backend: BackendRequest }) => {
      const assets = path.join(packageRoot(), 'assets', 'demo-model');
      const sink = progressSink(process.stderr, false);
      const { signal, dispose } = interruptSignal(() => process.stderr.write('\nshears: stopping (rerun with --resume to continue)\n'));
      try {
        const outcome = await sweep({
          ...demoSweep(assets),
          out: opts.out,
          resume: opts.resume,
          force: opts.force,
          backend: opts.backend,
          onWarning: (m) => process.stderr.write(`shears: warning: ${m}\n`),
          signal,
          onProgress: (p: SweepProgress) => {
            // One line per cell: the label without the per-block detail.
            const label = p.stage === 'cell' && p.spec && p.cells !== undefined && p.cell !== undefined ? cellLabel(p.cell, p.cells, p.spec) : p.label;
            sink.update({ fraction: p.cells && p.cell !== undefined ? (p.cell - 1) / p.cells : 0, label, elapsedSeconds: p.elapsedSeconds });
          },
        });
        sink.stop();
        const report = path.resolve(opts.out, 'report.html');
        process.stdout.write(
          `${summaryTable(outcome.results)}\n\nreport: ${report}\n(also report.md, results.json, results.csv, perplexity.svg/png in ${path.resolve(opts.out)})\n`,
        );
      } finally {
        sink.stop();
        dispose();
      }
    });
}
