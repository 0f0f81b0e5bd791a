// `shears convert --model PATH --out PATH`: HF directory or .gguf file output. Scratch
// left beside the output by stopped runs is removed first (one line on stderr).
import { Command } from 'commander';

import { outputFolder } from '../../formats/atomic';
import { checkOutPath } from '../../prune/options';
import { ConvertDeps, runConvert } from '../../formats/convert';
import { cleanStaleScratch } from '../../util/scratch';
import { TensorDType } from '../../model/types';

export function register(program: Command, deps: ConvertDeps = {}): void {
  program
    .command('convert')
    .description('convert a model to a Hugging Face directory or a .gguf file')
    .requiredOption('--model <path>', 'input model: HF directory, .gguf file or llama2.c .bin')
    .requiredOption('--out <path>', 'output: a directory (Hugging Face) or a file ending in .gguf')
    .option('--dtype <dtype>', 'output weight dtype: f32, f16 or bf16 (default: as stored)')
    .option('--tokenizer <file>', 'llama2.c tokenizer (tokenizer.bin) for a .bin checkpoint')
    .option('--force', 'replace an existing output')
    .action(async (opts: { model: string; out: string; dtype?: string; tokenizer?: string; force?: boolean }) => {
      checkOutPath(opts.out);
      const warn = (m: string) => process.stderr.write(`shears: warning: ${m}\n`);
      const folder = outputFolder(opts.out);
      const stale = cleanStaleScratch(folder);
      if (stale) warn(stale);
      const r = await runConvert(
        { model: opts.model, out: opts.out, dtype: opts.dtype as TensorDType | undefined, tokenizer: opts.tokenizer, force: opts.force },
        { warn, ...deps },
      );
      process.stdout.write(`wrote ${r.out} (${r.format === 'hf' ? 'Hugging Face' : 'GGUF'}; tokenizer ${r.tokenizer})\n`);
    });
}
