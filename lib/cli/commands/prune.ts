// `shears prune`: prune a model with a method and a sparsity, calibrated on the user's
// queries, and write the pruned model plus prune-report.json.
import { Command, Option } from 'commander';

import { RecoveryReport, STRUCTURES } from '../../methods/plugin';
import { METHODS } from '../../methods/registry';
import { DTYPES } from '../../model/types';
import { prune, PruneProgress } from '../../prune/run';
import { HEAD_UNITS } from '../../prune/structured';
import { backendOption, collect, hessianPrecisionOption, int, num, activationThresholdOption, alphaOption, methodOptions } from '../parse';
import { addCalibrationOptions, runWithProgress } from '../calibration-options';

// The event's own label, so the library's events and these lines always agree.
function describe(p: PruneProgress): { fraction: number; label: string } {
  if (p.stage === 'done') return { fraction: 1, label: p.label };
  if (p.stage !== 'prune' || !p.blocks) return { fraction: 0, label: p.label };
  return { fraction: Math.min(1, (p.block - (p.phase === 'done' ? 0 : 1)) / p.blocks), label: p.label };
}

function recoverySummary(r: RecoveryReport): string {
  const mask = `mask ${r.mask_preserved ? 'preserved' : 'NOT preserved'} (${r.pruned_weights} pruned weights)\n`;
  if (r.objective === 'kl')
    return `distilled on ${r.queries.samples} environment windows: ${r.steps} steps (lr ${r.lr}), KL(dense || pruned) ${r.loss_before.toFixed(4)} -> ${r.loss_after.toFixed(4)}, ${mask}`;
  return (
    `recovered on ${r.queries.samples} query windows: ${r.steps} steps (lr ${r.lr}, EWC lambda ${r.ewc_lambda}), ` +
    `query loss ${r.loss_before.toFixed(4)} -> ${r.loss_after.toFixed(4)}, EWC penalty ${r.ewc_penalty_after!.toExponential(3)}, ${mask}`
  );
}

export function register(program: Command): void {
  const command = program
    .command('prune')
    .description('prune a model and write it with a prune-report.json')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tok*.bin) when not beside the checkpoint')
    .requiredOption('--method <name>', 'magnitude | wanda | sparsegpt | ... (`shears methods` lists all)')
    .option('--sparsity <s>', 'fraction to prune, in [0, 1): of the weights, or (structured) of the block parameters / of the blocks', num('--sparsity'))
    .addOption(new Option('--structure <s>', 'structured methods: what is removed (default channels)').choices([...STRUCTURES]))
    .option('--uniform', 'structured methods: the same widths in every block (standard HF configs need it)')
    .option('--multiple-of <k>', 'structured methods: MLP widths rounded to a multiple of k (default 8)', int('--multiple-of'))
    .addOption(new Option('--head-unit <u>', 'structured methods under GQA: remove whole KV groups (group, default) or one query head of every group (query)').choices([...HEAD_UNITS]))
    .option('--pattern <N:M>', 'semi-structured pattern, e.g. 2:4 (keep at most N of every M)')
    .addOption(new Option('--granularity <g>', 'comparison group (default: the method\'s)').choices(['row', 'matrix', 'global']));
  addCalibrationOptions(command)
    .option('--stats <file>', 'statistics from `shears stats` (.safetensors) or a llama.cpp imatrix (.dat, .gguf) instead of a calibration pass (wanda)')
    .option('--include <glob>', 'only prune tensors matching (canonical names, e.g. blocks.*.mlp.* or **.attn.q; repeatable)', collect)
    .option('--exclude <glob>', 'do not prune tensors matching (e.g. blocks.0.**; repeatable)', collect)
    .addOption(new Option('--dtype <t>', 'output dtype (default: as the input)').choices([...DTYPES]))
    .addOption(hessianPrecisionOption())
    .addOption(activationThresholdOption())
    .addOption(alphaOption())
    .option('--batch <n>', 'calibration sequences per forward call (memory vs speed)', int('--batch'))
    .option('--queries <file>', 'ewc: your queries, to recover on after pruning (one per line, a corpus, or JSONL)')
    .option('--queries-tokens <file>', 'ewc: the queries as token ids (a JSON array), instead of --queries')
    .option('--ewc-lambda <y>', 'ewc: strength of the pull toward the dense weights (default 1e6)', num('--ewc-lambda'))
    .option('--steps <n>', 'ewc: recovery steps of 4 query windows (default 20); query-aware: distillation steps (default 100, 0: none)', int('--steps'))
    .option('--lr <x>', 'ewc and query-aware: learning rate (AdamW, default 1e-4 / 3e-4)', num('--lr'))
    .option('--generate-tokens <n>', 'query-aware: tokens the dense model generates after each --calib query (default 32; 0: the queries alone)', int('--generate-tokens'))
    .option('--temperature <t>', 'query-aware: 0 (default) greedy continuations of the queries; > 0 sampled (seeded by --seed)', num('--temperature'))
    .option('--top-k <k>', 'query-aware: sample among the k most likely tokens (0: all)', int('--top-k'))
    .addOption(new Option('--prior <p>', 'query-aware: what ranks the weights (default sparsegpt)').choices(['sparsegpt', 'wanda', 'magnitude']))
    .addOption(new Option('--repair <r>', 'query-aware: reconstruction of the kept weights (default sparsegpt)').choices(['sparsegpt', 'none']))
    .addOption(new Option('--distill <d>', 'query-aware: the learning step on all blocks at once (joint), one block at a time (blockwise: bounded memory), or auto (default: joint while its state fits in 1 GiB)').choices(['auto', 'blockwise', 'joint']))
    .addOption(new Option('--allocation <a>', 'query-aware: sparsity per block (default uniform; sensitivity: from the blocks\' measured KL)').choices(['uniform', 'sensitivity']))
    .addOption(backendOption());
  for (const option of methodOptions()) command.addOption(option);
  command
    .requiredOption('--out <path>', 'output: a directory (HF safetensors) or a .gguf file')
    .option('--force', 'replace an existing output')
    .option('--json', 'print the report as one JSON object on stdout')
    .action((opts) =>
      runWithProgress(async ({ signal, sink, warn }) => {
        const report = await prune({
          ...opts,
          signal,
          onProgress: (p) => sink.update({ ...describe(p), elapsedSeconds: p.elapsedSeconds }),
          onWarning: warn,
        });
        sink.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else if (report.structured) {
          const st = report.structured;
          const mib = (b: number) => (b / 2 ** 20).toFixed(2);
          process.stdout.write(
            `removed ${report.structured.structure} with ${report.method}: ${(st.achieved_sparsity * 100).toFixed(1)}% of block parameters ` +
              `(asked ${(report.sparsity * 100).toFixed(1)}%), ${st.parameters.before} -> ${st.parameters.after} parameters, ` +
              `${mib(st.bytes.before)} -> ${mib(st.bytes.after)} MiB in ${report.timings.total.toFixed(2)} s\n` +
              `widths per block (heads/kv/mlp): ${st.widths.after.map((w) => `${w.heads}/${w.kv_heads}/${w.mlp}`).join(' ')}` +
              (st.removed_blocks.length ? `; removed blocks ${st.removed_blocks.join(', ')}` : '') +
              `\n${report.recovery ? recoverySummary(report.recovery) : ''}wrote ${report.output.path}\nreport ${report.output.report}\n`,
          );
        } else {
          process.stdout.write(
            `pruned ${report.layers.length} matrices with ${report.method} (${report.pattern}, ${Number(report.sparsity.toFixed(4))}): ` +
              `achieved sparsity ${report.achieved_sparsity.toFixed(4)} in ${report.timings.total.toFixed(2)} s, ` +
              `peak RSS ${(report.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB, backend ${report.backend.device}\n` +
              (report.allocation ? `per-block sparsities (${report.allocation.method}): ${report.allocation.block_sparsity.map((x) => x.toFixed(3)).join(' ')}\n` : '') +
              (report.recovery ? recoverySummary(report.recovery) : '') +
              `wrote ${report.output.path}\nreport ${report.output.report}\n`,
          );
        }
      }),
    );

  program
    .command('methods')
    .description('list the pruning methods, implemented or planned')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = METHODS.map(({ name, description, kind, implemented, calibrated }) => ({ name, kind, implemented, calibrated, description }));
      if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else
        for (const r of rows)
          process.stdout.write(`${r.name.padEnd(20)} ${r.kind.padEnd(12)} ${r.implemented ? 'implemented    ' : 'not implemented'}  ${r.description}\n`);
    });
}
