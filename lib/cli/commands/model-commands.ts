// `shears eval`, `shears generate` and `shears tokenize`: measuring and looking at a
// model. PATH is an HF directory, a .gguf file or a llama2.c .bin (its tokenizer found
// beside it or given with --tokenizer).
import * as fs from 'node:fs';

import { Command } from 'commander';

import { BackendRequest } from '../../backend';
import { ArgumentRangeError } from '../../errors';
import { EvaluateOptions, runEvaluation } from '../../eval/run-eval';
import { loadModel } from '../../formats/load';
import { ForwardModel } from '../../forward/model';
import { generate } from '../../forward/generate';
import { runWithProgress } from '../calibration-options';
import { backendOption, int, num } from '../parse';
import { runTokenize } from '../../tokenizer/cli';
import { loadTokenizer } from '../../tokenizer/load';

interface EvalArgs extends EvaluateOptions {
  backend: BackendRequest;
  json?: boolean;
}

/** Runs evaluate() (lib/eval/run-eval.ts) and prints its report: a few lines, or one JSON object with --json. */
async function runEval(o: EvalArgs): Promise<void> {
  // The held-out measures take minutes: a progress display and a clean stop on Ctrl-C.
  // The perplexity of one model is quick and prints nothing but its result.
  const { report, text } =
    o.reference !== undefined || o.queries !== undefined
      ? await runWithProgress(({ signal, sink }) => runEvaluation({ ...o, signal, onProgress: (p) => p.stage !== 'done' && sink.update(p) }))
      : await runEvaluation(o);
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${text}\n`);
}

export function register(program: Command): void {
  program
    .command('eval')
    .description(
      'perplexity with the WikiText-2 protocol of Wanda/SparseGPT (non-overlapping windows, BOS once); ' +
        'with --reference DENSE --queries FILE: the model against its dense reference on held-out queries continued by the reference',
    )
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer file')
    .option('--reference <path>', 'the dense model to compare with (needs --queries)')
    .option('--queries <file>', 'with --reference: held-out queries (text lines, JSONL "text" or chat "messages")')
    .option('--generate-tokens <n>', 'with --reference: tokens the reference generates after each query (default 32)', int('--generate-tokens'))
    .option('--temperature <t>', 'with --reference: 0 (default) greedy continuations, > 0 sampled', num('--temperature'))
    .option('--top-k <k>', 'with --reference: sample among the k most likely tokens (0: all)', int('--top-k'))
    .option('--seed <s>', 'with --reference: seed of sampled continuations', int('--seed'))
    .option('--data <file>', 'evaluation text (a .jsonl file: its "text" rows joined with a blank line)')
    .option('--tokens <file>', 'token ids (a JSON array), used as they are')
    .option('--seq-len <l>', "window length (default: the model's context length)", int('--seq-len'))
    .option('--max-windows <n>', 'evaluate only the first n windows', int('--max-windows'))
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action((o: EvalArgs) => runEval(o));

  program
    .command('generate')
    .description('generation (greedy, or sampled with --temperature), for a quick look at a model')
    .requiredOption('--model <path>', 'HF directory, .gguf file or llama2.c .bin')
    .option('--tokenizer <file>', 'llama2.c tokenizer file')
    .option('--prompt <text>', 'prompt (default: empty, i.e. BOS only)')
    .option('--max-tokens <n>', 'tokens to generate, at most the context length minus the prompt', int('--max-tokens'), 64)
    .option('--temperature <t>', '0 (default): greedy; > 0: sample from softmax(logits / t)', num('--temperature'), 0)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: all)', int('--top-k'), 0)
    .option('--seed <s>', 'seed of the draws (the same text for the same seed)', int('--seed'), 0)
    .action(async (o: { model: string; tokenizer?: string; prompt?: string; maxTokens: number; temperature: number; topK: number; seed: number }) => {
      const model = await loadModel(o.model, { tokenizer: o.tokenizer });
      try {
        const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
        const prompt = tok.encode(o.prompt ?? '', { bos: true });
        const ids = await generate(new ForwardModel(model), prompt, o.maxTokens, { temperature: o.temperature, topK: o.topK, seed: o.seed });
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
