// `shears stats`: one calibration pass over the dense model, written as an importance
// file (shears' safetensors, or a llama.cpp imatrix .dat / .gguf) that
// `shears prune --stats FILE` and llama.cpp's quantizer read (docs/importance-files.md).
import { Command } from 'commander';

import { stats, StatsProgress } from '../../stats/run';
import { addCalibrationOptions, runWithProgress } from '../calibration-options';
import { activationThresholdOption, backendOption, int } from '../parse';

// With --gradients the activation pass is the first half of the bar, the gradient pass the second.
function fraction(p: StatsProgress, gradients: boolean): number {
  if (p.stage === 'done') return 1;
  if (p.stage === 'gradients') return p.sequences ? 0.5 + (0.5 * p.sequences.done) / p.sequences.total : 0.5;
  return p.stage === 'statistics' && p.blocks ? ((p.block - 1) / p.blocks) * (gradients ? 0.5 : 1) : 0;
}

export function register(program: Command): void {
  const command = program
    .command('stats')
    .description('gather the per-column activation statistics of a model once and write them as an importance file')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint');
  addCalibrationOptions(command)
    .addOption(activationThresholdOption())
    .option('--gradients', "also the per-weight moments of the calibration loss gradients (sum, sum of squares) that the gradient methods read (fisher, gradient, gradient-sensitive); .safetensors only")
    .option(
      '--gradient-budget <MiB>',
      'with --gradients: accumulator memory (8 bytes a weight) above which they live in file-backed scratch pages beside the output (default 256; 0: always)',
      int('--gradient-budget'),
    )
    .option('--batch <n>', 'calibration sequences per forward call (memory vs speed)', int('--batch'))
    .addOption(backendOption())
    .requiredOption('--out <file>', "FILE.safetensors (shears' importance file), FILE.dat (llama.cpp legacy imatrix) or FILE.gguf (llama.cpp GGUF imatrix)")
    .option('--force', 'replace an existing output')
    .option('--json', 'print the report as one JSON object on stdout')
    .action((opts) =>
      runWithProgress(async ({ signal, sink, warn }) => {
        const report = await stats({
          ...opts,
          gradientMemoryBudget: opts.gradientBudget === undefined ? undefined : opts.gradientBudget * 2 ** 20,
          signal,
          onProgress: (p) => sink.update({ fraction: fraction(p, !!opts.gradients), label: p.label, elapsedSeconds: p.elapsedSeconds }),
          onWarning: warn,
        });
        sink.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else
          process.stdout.write(
            `wrote the input statistics of ${report.layers} linear layers (${report.tokens} calibration tokens, ${report.form})` +
              (report.gradients ? ` and their gradient moments over ${report.gradients.sequences} sequences` : '') +
              ' ' +
              `in ${report.timings.total.toFixed(2)} s, peak RSS ${(report.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB\n${report.out}\n`,
          );
      }),
    );
}
