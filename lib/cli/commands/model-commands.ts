// `shears eval`, `shears generate` and `shears tokenize`: measuring and looking at a
// model. PATH is an HF directory, a .gguf file or a llama2.c .bin (its tokenizer found
// beside it or given with --tokenizer).
import * as fs from 'node:fs';

import { Command } from 'commander';

import { BackendRequest, planBackend } from '../../backend';
import { readTokenIds } from '../../calibration/read';
import { ArgumentRangeError } from '../../errors';
import { compareOnQueries } from '../../eval/held-out-run';
import { compareJson, compareText } from '../../eval/held-out-report';
import { perplexity } from '../../eval/perplexity';
import { readEvalText } from '../../eval/text';
import { loadModel } from '../../formats/load';
import { ForwardModel } from '../../forward/model';
import { generate } from '../../forward/generate';
import { runWithProgress } from '../calibration-options';
import { backendOption, int, num } from '../parse';
import { runTokenize } from '../../tokenizer/cli';
import { loadTokenizer } from '../../tokenizer/load';

interface EvalArgs {
  model: string;
  tokenizer?: string;
  data?: string;
  tokens?: string;
  seqLen?: number;
  maxWindows?: number;
  reference?: string;
  queries?: string;
  generateTokens?: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  backend: BackendRequest;
  json?: boolean;
}

/** eval --reference: the held-out query measures (lib/eval/held-out.ts). */
async function evalAgainstReference(o: EvalArgs): Promise<void> {
  if (o.reference === undefined || o.queries === undefined) throw new ArgumentRangeError('--reference DENSE and --queries FILE go together');
  const windowed = (['data', 'tokens', 'seqLen', 'maxWindows'] as const).filter((k) => o[k] !== undefined);
  if (windowed.length > 0)
    throw new ArgumentRangeError(
      `${windowed.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}: for the perplexity of one model; with --reference the measures are on --queries`,
    );
  const report = await runWithProgress(({ signal, sink }) => {
    const t0 = process.hrtime.bigint();
    return compareOnQueries({
      ...o,
      reference: o.reference!,
      queries: o.queries!,
      signal,
      onProgress: (label, done, total) =>
        sink.update({ fraction: (label === 'generate' ? 0 : 0.5) + (0.5 * done) / total, label: label === 'generate' ? 'generate continuations' : 'measure', elapsedSeconds: Number(process.hrtime.bigint() - t0) / 1e9 }),
    });
  });
  process.stdout.write(o.json ? `${JSON.stringify(compareJson(report))}\n` : `${compareText(report)}\n`);
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
    .action(async (o: EvalArgs) => {
      if (o.reference !== undefined || o.queries !== undefined) return evalAgainstReference(o);
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
