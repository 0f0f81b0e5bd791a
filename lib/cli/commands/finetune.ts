// `shears finetune`: recovery fine-tuning of a pruned model (AdamW on the next-token
// loss, the pruned weights held at exactly zero, optional EWC), docs/finetune.md.
import { Command, Option } from 'commander';

import { finetune, FinetuneProgress } from '../../finetune';
import { runWithProgress } from '../calibration-options';
import { int, num } from '../parse';

function fraction(p: FinetuneProgress): number {
  return p.stage === 'done' ? 1 : p.total > 0 ? p.done / p.total : 0;
}

export function register(program: Command): void {
  program
    .command('finetune')
    .description('recover a pruned model by fine-tuning it with its sparsity mask held fixed (AdamW, optional EWC)')
    .requiredOption('--model <path>', 'the pruned model: HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint')
    .option('--data <file>', 'training text: one query per line, a corpus, or JSONL (text or chat messages)')
    .option('--data-tokens <file>', 'training token ids (a JSON array), instead of --data')
    .option('--calib-samples <k>', 'training sequences drawn from --data (default 128)', int('--calib-samples'))
    .option('--seq-len <l>', 'tokens per sequence (default min(2048, context length))', int('--seq-len'))
    .addOption(new Option('--calib-sampling <how>', 'random windows (default) or the first windows').choices(['random', 'contiguous']))
    .option('--seed <n>', 'seed of the sampling and of the order of the sequences (default 0)', int('--seed'))
    .requiredOption('--steps <n>', 'optimizer steps', int('--steps'))
    .requiredOption('--lr <x>', 'AdamW learning rate', num('--lr'))
    .option('--batch <b>', 'sequences per step (default 4)', int('--batch'))
    .option('--weight-decay <w>', 'decoupled weight decay of the weight matrices (default 0)', num('--weight-decay'))
    .option('--ewc-lambda <y>', 'elastic weight consolidation strength (needs --ewc-data)', num('--ewc-lambda'))
    .option('--ewc-data <file>', 'general text for the Fisher diagonal of EWC (e.g. the calibration corpus)')
    .option('--ewc-tokens <file>', 'the same as token ids (a JSON array), instead of --ewc-data')
    .option('--eval <file>', 'held-out text: perplexity before and after, in the report')
    .option('--eval-seq-len <l>', 'window length of the evaluation (default: --seq-len)', int('--eval-seq-len'))
    .option('--eval-windows <n>', 'evaluate only the first n windows', int('--eval-windows'))
    .option('--save-every <s>', 'write a checkpoint (OUT-step-NNNNNN) every s steps', int('--save-every'))
    .requiredOption('--out <path>', 'output: a directory (HF safetensors) or a .gguf file')
    .addOption(new Option('--dtype <t>', 'storage dtype of the output (default: the input tensors)').choices(['f32', 'f16', 'bf16']))
    .option('--force', 'replace existing outputs')
    .option('--json', 'print the report as one JSON object on stdout')
    .action((opts) =>
      runWithProgress(async ({ signal, sink, warn }) => {
        // The progress label of a step carries its loss: one line per step in logs, the bar's label on a terminal.
        const report = await finetune({
          ...opts,
          signal,
          onProgress: (p) => sink.update({ fraction: fraction(p), label: p.label, elapsedSeconds: p.elapsedSeconds }),
          onWarning: warn,
        });
        sink.stop();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
          return;
        }
        const first = report.losses[0];
        const last = report.losses[report.losses.length - 1];
        const ppl = report.eval ? `, held-out perplexity ${report.eval.perplexity_before.toFixed(3)} -> ${report.eval.perplexity_after.toFixed(3)}` : '';
        process.stdout.write(
          `fine-tuned ${report.optimizer.steps} steps (loss ${first.toFixed(4)} -> ${last.toFixed(4)}${ppl}); ` +
            `${report.mask.pruned_weights} pruned weights held at zero, mask preserved in ${report.mask.matrices.length} matrices; ` +
            `${report.timings.total.toFixed(1)} s\n${report.output.path}\n`,
        );
      }),
    );
}
