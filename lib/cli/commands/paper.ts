// `shears paper`: the seed's eight tables for one model (lib/paper), as paper.md,
// paper.html and paper.json in --out, with every sweep cached for --resume.
import { Command } from 'commander';

import { paper } from '../../paper/run';
import { parseList } from '../../sweep/options';
import { backendOption, int } from '../parse';
import { interruptSignal, progressSink } from '../progress';

export function register(program: Command): void {
  program
    .command('paper')
    .description("run and write the seed's eight tables for a model (markdown, JSON and one HTML page with figures)")
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint')
    .requiredOption('--calib <file>', 'calibration text: your users\' queries (one per line, a corpus, or JSONL)')
    .requiredOption('--eval <file>', 'evaluation text for perplexity')
    .option('--queries <file>', 'held-out queries for KL and top-1 agreement (default: the evaluation windows)')
    .requiredOption('--out <dir>', 'output folder: paper.md, paper.html, paper.json, and the cached sweeps')
    .option('--methods <list>', 'the strategies of Tables 4, 7 and 8, comma-separated (default: every implemented method)', parseList)
    .option('--quick', 'reduced levels (10-90% in steps of 20), 16 calibration windows of 128 tokens, 8 evaluation windows, a search budget of 16')
    .option('--opt-model <path>', "Table 6's model, an OPT or GPT-2 model (default: --model when it is one, else shears' OPT demo model)")
    .option('--budget <n>', 'Table 5: formula evaluations of the search (default 48; --quick 16)', int('--budget'))
    .option('--calib-samples <k>', 'calibration windows (default 64; --quick 16)', int('--calib-samples'))
    .option('--seq-len <l>', 'calibration window length (default min(2048, context); --quick 128)', int('--seq-len'))
    .option('--max-windows <n>', 'evaluate only the first n windows (--quick: 8)', int('--max-windows'))
    .option('--seed <n>', 'seed of the sampling and of the random methods (default 0)', int('--seed'))
    .addOption(backendOption())
    .option('--queue <url>', 'Redis URL (redis://HOST:PORT): the sweeps\' cells computed by `shears worker` processes (a shared filesystem; docs/distributed.md)')
    .option('--resume', 'finish an interrupted run in --out, recomputing only what is missing')
    .option('--force', 'discard a previous run in --out')
    .action(async (opts) => {
      const started = Date.now();
      const sink = progressSink(process.stderr, false);
      const { signal, dispose } = interruptSignal(() => process.stderr.write('\nshears: stopping (rerun with --resume to continue)\n'));
      try {
        const outcome = await paper({
          ...opts,
          signal,
          onWarning: (m) => process.stderr.write(`shears: warning: ${m}\n`),
          onProgress: (label) => sink.update({ fraction: 0, label, elapsedSeconds: (Date.now() - started) / 1000 }),
        });
        sink.stop();
        process.stdout.write(
          `${outcome.tables.length} tables in ${outcome.seconds.toFixed(0)} s:\n${outcome.tables.map((t) => `  ${t.title} (${t.rows.length} rows)`).join('\n')}\n` +
            `report: ${outcome.files.find((f) => f.endsWith('paper.html'))} (also paper.md, paper.json)\n`,
        );
      } finally {
        sink.stop();
        dispose();
      }
    });
}
