// `evaluate()`: what `shears eval` measures, as one awaitable call for the CLI and for
// Node services (`shears serve`). Two forms: the perplexity of one model on a text or on
// token ids (WikiText-2 protocol), or, with `reference` and `queries`, the model against
// its dense reference on held-out queries (./held-out-run.ts). It resolves with the JSON
// object `shears eval --json` prints; `text` is the line(s) the CLI prints without --json.
import { BackendRequest, planBackend } from '../backend';
import { readTokenIds } from '../calibration/read';
import { ArgumentRangeError } from '../errors';
import { loadModel } from '../formats/load';
import { ForwardModel } from '../forward/model';
import { loadTokenizer } from '../tokenizer/load';
import { secondsSince } from '../util/clock';
import { compareJson, compareText } from './held-out-report';
import { compareOnQueries } from './held-out-run';
import { perplexity } from './perplexity';
import { readEvalText } from './text';

export interface EvaluateOptions {
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  /** Evaluation text (a .jsonl file: its "text" rows joined with a blank line); or `tokens`. */
  data?: string;
  /** Token ids (a JSON array), used as they are; or `data`. */
  tokens?: string;
  /** Window length (default: the model's context length). */
  seqLen?: number;
  /** Evaluate only the first windows. */
  maxWindows?: number;
  /** The dense model to compare with (needs `queries`). */
  reference?: string;
  /** With `reference`: held-out queries. */
  queries?: string;
  generateTokens?: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  backend?: BackendRequest;
  signal?: AbortSignal;
  onProgress?: (p: EvaluateProgress) => void;
}

export interface EvaluateProgress {
  stage: 'load' | 'generate' | 'measure' | 'done';
  /** The line the CLI shows: 'load', 'generate continuations', 'measure', 'done'. */
  label: string;
  /** Fraction of the work done, in [0, 1]. */
  fraction: number;
  elapsedSeconds: number;
}

export type EvaluateReport = Record<string, unknown>;

/** The options that belong to the perplexity of one model, refused beside --reference. */
const WINDOWED = ['data', 'tokens', 'seqLen', 'maxWindows'] as const;
const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The checks that need no model; says which form of evaluation the options ask for. */
export function checkEvaluateOptions(o: EvaluateOptions): 'reference' | 'perplexity' {
  if (o.reference !== undefined || o.queries !== undefined) {
    if (o.reference === undefined || o.queries === undefined) throw new ArgumentRangeError('--reference DENSE and --queries FILE go together');
    const windowed = WINDOWED.filter((k) => o[k] !== undefined);
    if (windowed.length > 0)
      throw new ArgumentRangeError(`${windowed.map(flag).join(', ')}: for the perplexity of one model; with --reference the measures are on --queries`);
    return 'reference';
  }
  if (!o.data === !o.tokens) throw new ArgumentRangeError('give exactly one of --data TEXTFILE or --tokens IDS.json');
  return 'perplexity';
}

/** The report and the CLI's text for it. */
export async function runEvaluation(o: EvaluateOptions): Promise<{ report: EvaluateReport; text: string }> {
  const t0 = process.hrtime.bigint();
  const progress = (stage: EvaluateProgress['stage'], label: string, fraction: number) =>
    o.onProgress?.({ stage, label, fraction, elapsedSeconds: secondsSince(t0) });
  o.signal?.throwIfAborted();
  if (checkEvaluateOptions(o) === 'reference') {
    const report = await compareOnQueries({
      ...o,
      reference: o.reference!,
      queries: o.queries!,
      onProgress: (label, done, total) =>
        label === 'generate' ? progress('generate', 'generate continuations', (0.5 * done) / total) : progress('measure', 'measure', 0.5 + (0.5 * done) / total),
    });
    progress('done', 'done', 1);
    return { report: compareJson(report), text: compareText(report) };
  }
  const backend = planBackend(o.backend ?? 'auto');
  progress('load', 'load', 0);
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
    o.signal?.throwIfAborted();
    progress('measure', 'measure', 0);
    const r = await perplexity(new ForwardModel(model, { backend: backend.device }), ids, {
      seqLen: o.seqLen,
      maxWindows: o.maxWindows,
      // Between windows: a stop ends the measure there (the model is closed below).
      onProgress: (done, total) => {
        o.signal?.throwIfAborted();
        progress('measure', `measure ${done}/${total} windows`, done / total);
      },
    });
    progress('done', 'done', 1);
    const report = { perplexity: r.perplexity, mean_nll: r.meanNll, windows: r.windows, seq_len: r.seqLen, tokens: r.tokens, input_tokens: ids.length, seconds: r.seconds, backend };
    const text = `perplexity ${r.perplexity.toFixed(4)} (mean NLL ${r.meanNll.toFixed(5)} nats) over ${r.windows} windows of ${r.seqLen} tokens, ${r.seconds.toFixed(2)} s (${backend.device})`;
    return { report, text };
  } finally {
    model.close();
  }
}

/** What `shears eval --json` prints, as an object. */
export async function evaluate(o: EvaluateOptions): Promise<EvaluateReport> {
  return (await runEvaluation(o)).report;
}
