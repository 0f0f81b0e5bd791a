// `shears eval`, `shears generate` and `shears tokenize`: measuring and looking at a
// model. PATH is an HF directory, a .gguf file or a llama2.c .bin (its tokenizer found
// beside it or given with --tokenizer).
import * as fs from 'node:fs';

import { Command } from 'commander';

import { BackendRequest, planBackend } from '../../backend';
import { readTokenIds } from '../../calibration/read';
import { ArgumentRangeError, NotImplementedError } from '../../errors';
import { perplexity } from '../../eval/perplexity';
import { readEvalText } from '../../eval/text';
import { loadModel } from '../../formats/load';
import { ForwardModel } from '../../forward/model';
import { generate } from '../../forward/generate';
import { backendOption, int } from '../parse';
import { runTokenize } from '../../tokenizer/cli';
import { loadTokenizer } from '../../tokenizer/load';

export function register(program: Command): void {
  program
    .command('eval')
    .description('perplexity with the WikiText-2 protocol of Wanda/SparseGPT (non-overlapping windows, BOS once)')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer file')
    .option('--data <file>', 'evaluation text (a .jsonl file: its "text" rows joined with a blank line)')
    .option('--tokens <file>', 'token ids (a JSON array), used as they are')
    .option('--seq-len <l>', "window length (default: the model's context length)", int('--seq-len'))
    .option('--max-windows <n>', 'evaluate only the first n windows', int('--max-windows'))
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (o: { model: string; tokenizer?: string; data?: string; tokens?: string; seqLen?: number; maxWindows?: number; backend: BackendRequest; json?: boolean }) => {
      if (!o.data === !o.tokens) throw new ArgumentRangeError('give exactly one of --data TEXTFILE or --tokens IDS.json');
      const backend = planBackend(o.backend);
      const model = await loadModel(o.model, { tokenizer: o.tokenizer });
      try {
        // As prune refuses it: windows past the context length score positions the model never saw.
        if (o.seqLen !== undefined && o.seqLen > model.config.contextLength)
          throw new ArgumentRangeError(`--seq-len ${o.seqLen} exceeds the model's context length ${model.config.contextLength} (${o.model})`);
        let ids: Int32Array;
        if (o.tokens) ids = readTokenIds(o.tokens, model.config.vocabSize);
        else {
          const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
          ids = Int32Array.from(tok.encode(readEvalText(o.data!), { bos: true }));
        }
        const r = await perplexity(new ForwardModel(model, { backend: backend.device }), ids, { seqLen: o.seqLen, maxWindows: o.maxWindows });
        const out = { perplexity: r.perplexity, mean_nll: r.meanNll, windows: r.windows, seq_len: r.seqLen, tokens: r.tokens, input_tokens: ids.length, seconds: r.seconds, backend };
        if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else
          process.stdout.write(
            `perplexity ${r.perplexity.toFixed(4)} (mean NLL ${r.meanNll.toFixed(5)} nats) over ${r.windows} windows of ${r.seqLen} tokens, ${r.seconds.toFixed(2)} s (${backend.device})\n`,
          );
      } finally {
        model.close();
      }
    });

  program
    .command('generate')
    .description('greedy generation, for a quick look at a model')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer file')
    .option('--prompt <text>', 'prompt (default: empty, i.e. BOS only)')
    .option('--max-tokens <n>', 'tokens to generate, at most the context length minus the prompt', int('--max-tokens'), 64)
    .option('--temperature <t>', 'only 0 (greedy) is implemented', Number, 0)
    .action(async (o: { model: string; tokenizer?: string; prompt?: string; maxTokens: number; temperature: number }) => {
      if (o.temperature !== 0) throw new NotImplementedError('sampling with --temperature > 0 is not implemented; use --temperature 0 (greedy)');
      const model = await loadModel(o.model, { tokenizer: o.tokenizer });
      try {
        const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
        const prompt = tok.encode(o.prompt ?? '', { bos: true });
        const ids = await generate(new ForwardModel(model), prompt, o.maxTokens);
        process.stdout.write(`${tok.decode([...prompt, ...ids])}\n`);
      } finally {
        model.close();
      }
    });

  program
    .command('tokenize')
    .description("token ids of a text with the model's tokenizer")
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer file')
    .option('--text <string>', 'text to encode')
    .option('--data <file>', "encode the file's whole content as one string, exactly as --text would")
    .option('--bos', 'prepend BOS')
    .option('--json', 'print a JSON array')
    .action(async (o: { model: string; tokenizer?: string; text?: string; data?: string; bos?: boolean; json?: boolean }) => {
      const model = await loadModel(o.model, { tokenizer: o.tokenizer });
      try {
        const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
        if (o.data !== undefined && !fs.existsSync(o.data)) throw new ArgumentRangeError(`--data ${o.data} does not exist`);
        await runTokenize(tok, { text: o.text, dataFile: o.data, bos: o.bos ?? false, json: o.json }, process.stdout);
      } finally {
        model.close();
      }
    });
}
