// `shears sweep`: methods x sparsity levels (and N:M patterns), each cell pruned and
// evaluated end to end, rendered as a report (results.json/csv, report.md/html, chart).
import { Command, Option } from 'commander';

import { STRUCTURES } from '../../methods/plugin';
import { HEAD_UNITS } from '../../prune/structured';
import { resultsToJson } from '../../report/json';
import { parseList, parseLevels } from '../../sweep/options';
import { sweep, SweepProgress } from '../../sweep/run';
import { summaryTable } from '../../sweep/summary';
import { backendOption, hessianPrecisionOption, int, activationThresholdOption, alphaOption, methodOptions } from '../parse';
import { interruptSignal, progressSink } from '../progress';

// The event's own label, so the library's events and these lines always agree.
function describe(p: SweepProgress): { fraction: number; label: string } {
  if (p.stage === 'cell' && p.finished !== undefined && p.cells) return { fraction: p.finished / p.cells, label: p.label };
  if (p.stage !== 'cell' || p.cell === undefined || !p.cells) return { fraction: p.stage === 'done' ? 1 : 0, label: p.label };
  return { fraction: (p.cell - 1) / p.cells, label: p.label };
}

export function register(program: Command): void {
  const command = program
    .command('sweep')
    .description('prune with each method at each sparsity level and compare with the dense model (perplexity, KL, top-1 agreement)')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint')
    .requiredOption('--methods <list>', 'comma-separated methods, e.g. magnitude,wanda,sparsegpt', parseList)
    .addOption(new Option('--structure <s>', 'structured methods: what is removed; a level is then the fraction of block parameters (layers: of blocks) removed').choices([...STRUCTURES]))
    .option('--uniform', 'structured methods: the same widths in every block')
    .option('--multiple-of <k>', 'structured methods: MLP widths rounded to a multiple of k (default 8)', int('--multiple-of'))
    .addOption(new Option('--head-unit <u>', 'structured methods under GQA: whole KV groups (group, default) or one query head of every group (query)').choices([...HEAD_UNITS]))
    .option('--levels <list>', 'unstructured sparsity levels (default 0.01,0.05,0.1,0.2,...,0.9,0.95,0.99)', parseLevels)
    .option('--patterns <list>', 'unstructured and/or N:M patterns, e.g. unstructured,2:4,4:8 (default unstructured)', parseList)
    .option('--calib <file>', 'calibration text: one query per line, a corpus, or JSONL')
    .option('--calib-tokens <file>', 'calibration token ids (a JSON array)')
    .option('--calib-samples <k>', 'number of calibration sequences (default 128)', int('--calib-samples'))
    .option('--seq-len <l>', 'calibration sequence length (default min(2048, context length))', int('--seq-len'))
    .addOption(new Option('--calib-sampling <how>', 'random windows (default) or the first windows').choices(['random', 'contiguous']))
    .option('--seed <n>', 'seed of the random sampling (default 0)', int('--seed'))
    .option('--eval <file>', 'evaluation text for perplexity (a .jsonl file: its "text" rows joined with a blank line)')
    .option('--eval-tokens <file>', 'evaluation token ids (a JSON array)')
    .option('--eval-seq-len <l>', "perplexity window length (default: the model's context length)", int('--eval-seq-len'))
    .option('--max-windows <n>', 'evaluate only the first n windows', int('--max-windows'))
    .option('--queries <file>', 'held-out user queries, one per line, for KL and top-1 agreement (default: the evaluation windows)')
    .addOption(new Option('--stats <mode>', 'exact: sequential statistics per cell (the protocol); once: dense-model statistics gathered once and reused (fast, approximate)').choices(['exact', 'once']).default('exact'))
    .addOption(hessianPrecisionOption())
    .addOption(activationThresholdOption())
    .addOption(alphaOption())
    .option('--batch <n>', 'calibration sequences per forward call', int('--batch'))
    .option('--speed', "measure each pruned model's prefill and decode tokens/s in shears' forward pass (and the dense model's, in the same run)")
    .addOption(backendOption());
  for (const option of methodOptions()) command.addOption(option);
  command
    .option('--queue <url>', 'Redis URL (redis://HOST:PORT): queue the cells for `shears worker` processes instead of computing them here; --out and the inputs must be on a filesystem the workers share')
    .option('--resume', 'finish an interrupted sweep in --out, recomputing only the missing cells')
    .option('--force', 'discard a previous sweep in --out')
    .requiredOption('--out <dir>', 'output folder (cells/, results.json, report.md, report.html, ...)')
    .option('--json', 'print the results as one JSON object on stdout')
    .action(async (opts) => {
      const sink = progressSink(process.stderr, false);
      const { signal, dispose } = interruptSignal(() =>
        process.stderr.write('\nshears: stopping after saving the finished cells (rerun with --resume to continue)\n'),
      );
      try {
        const outcome = await sweep({ ...opts, signal, onWarning: (m) => process.stderr.write(`shears: warning: ${m}\n`), onProgress: (p) => sink.update({ ...describe(p), elapsedSeconds: p.elapsedSeconds }) });
        sink.stop();
        if (opts.json) process.stdout.write(`${resultsToJson(outcome.results).replace(/\n\s*/g, '')}\n`);
        else
          process.stdout.write(
            `${summaryTable(outcome.results)}\n${outcome.computed} cells computed, ${outcome.reused} reused from ${opts.out}/cells\n` +
              `report: ${outcome.files.find((f) => f.endsWith('report.html'))} (also report.md, results.json, results.csv, perplexity.svg/png)\n`,
          );
      } finally {
        sink.stop();
        dispose();
      }
    });
}
