// What finetune() accepts, and every check of it that needs no model (run before
// anything is loaded, so that bad input costs nothing and writes nothing).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationError } from '../calibration/read';
import { CalibrationSampling } from '../calibration/sample';
import { ArgumentRangeError } from '../errors';
import { checkOutput } from '../formats/atomic';
import { targetFormat } from '../formats/convert';
import { DType, isDType } from '../tensor';

export interface FinetuneProgress {
  stage: 'load' | 'data' | 'fisher' | 'eval' | 'train' | 'checkpoint' | 'write' | 'done';
  /** Steps done (train, checkpoint) or sequences done (fisher) or windows done (eval). */
  done: number;
  total: number;
  /** The mean next-token loss of the step just done (train). */
  loss?: number;
  label: string;
  elapsedSeconds: number;
}

export interface FinetuneOptions {
  /** The pruned model: HF directory, .gguf file or llama2.c .bin. */
  model: string;
  /** llama2.c tokenizer file, when not beside the checkpoint. */
  tokenizer?: string;
  /** Training text (the user's queries, a corpus, or JSONL), drawn as calibration windows are. */
  data?: string;
  /** Training token ids (a JSON array), instead of data. */
  dataTokens?: string;
  /** Training sequences drawn from data (default 128). */
  calibSamples?: number;
  /** Tokens per sequence (default min(2048, the model's context length)). */
  seqLen?: number;
  calibSampling?: CalibrationSampling;
  /** Seed of the window sampling and of the order sequences are visited in (default 0). */
  seed?: number;
  /** Optimizer steps (>= 1). */
  steps: number;
  /** AdamW learning rate (> 0). */
  lr: number;
  /** Sequences per step (default 4). */
  batch?: number;
  /** Decoupled weight decay on the weight matrices (default 0; norms and biases never decay). */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** EWC strength lambda >= 0 (penalty lambda/2 * sum F (w - w*)^2); given together with ewcData or ewcTokens. */
  ewcLambda?: number;
  /** General text for the Fisher diagonal F (e.g. the calibration corpus). */
  ewcData?: string;
  /** The same as token ids (a JSON array), instead of ewcData. */
  ewcTokens?: string;
  /** Held-out text: perplexity before and after, in the report. */
  eval?: string;
  /** Window length of the evaluation (default: seqLen). */
  evalSeqLen?: number;
  /** Evaluate only the first windows (default all). */
  evalWindows?: number;
  /** Write a checkpoint every S steps (default: none). */
  saveEvery?: number;
  /** A directory (HF safetensors) or a .gguf file. */
  out: string;
  force?: boolean;
  /** Storage dtype of the output (default: the input's). */
  dtype?: DType;
  signal?: AbortSignal;
  onProgress?: (p: FinetuneProgress) => void;
  onWarning?: (message: string) => void;
  /** One line per step (the CLI prints it). */
  onStep?: (step: number, loss: number) => void;
}

export interface CheckedFinetune {
  format: 'hf' | 'gguf';
  /** Where finetune-report.json goes (inside an HF directory, beside a .gguf). */
  reportPath: string;
  batch: number;
  weightDecay: number;
  /** EWC strength when EWC runs (EWC data given), else undefined. */
  ewcLambda?: number;
  /** Checkpoint outputs, in step order (each with its report path). */
  checkpoints: { step: number; out: string; reportPath: string }[];
}

function positiveInt(v: unknown, option: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentRangeError(`${option} must be a positive integer, got ${String(v)}`);
}

function finiteIn(v: number, option: string, lo: number, hi: number, openLo: boolean): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (openLo && v === lo) || v > hi)
    throw new ArgumentRangeError(`${option} must be a finite number in ${openLo ? '(' : '['}${lo}, ${hi}], got ${String(v)}`);
}

/** Throws CalibrationError naming `file` unless it is a regular file this process can stat. */
export function readableFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new CalibrationError(`cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  if (!st.isFile()) throw new CalibrationError(`the ${what} is not a regular file`, file);
}

export function reportPathOf(out: string, format: 'hf' | 'gguf'): string {
  return format === 'hf' ? path.join(out, 'finetune-report.json') : out.replace(/\.gguf$/i, '.finetune-report.json');
}

/** `out` for the checkpoint after `step`: OUT-step-000100 (a directory) or OUT-step-000100.gguf. */
export function checkpointPath(out: string, step: number): string {
  const tag = `-step-${String(step).padStart(6, '0')}`;
  return /\.gguf$/i.test(out) ? out.replace(/(\.gguf)$/i, `${tag}$1`) : `${out.replace(/[\\/]+$/, '')}${tag}`;
}

/** Checks everything that needs no model; throws ArgumentRangeError / CalibrationError / OutputError. */
export function checkFinetuneOptions(o: FinetuneOptions): CheckedFinetune {
  if (typeof o.model !== 'string' || o.model === '') throw new ArgumentRangeError('--model is required');
  if (!o.data === !o.dataTokens) throw new ArgumentRangeError('give exactly one of --data FILE (the text to fine-tune on) or --data-tokens IDS.json');
  if (typeof o.out !== 'string' || o.out === '') throw new ArgumentRangeError('--out is required');
  positiveInt(o.steps, '--steps');
  finiteIn(o.lr, '--lr', 0, 1, true);
  const batch = o.batch ?? 4;
  positiveInt(batch, '--batch');
  for (const [v, name] of [
    [o.calibSamples, '--calib-samples'],
    [o.seqLen, '--seq-len'],
    [o.evalSeqLen, '--eval-seq-len'],
    [o.evalWindows, '--eval-windows'],
    [o.saveEvery, '--save-every'],
  ] as const)
    if (v !== undefined) positiveInt(v, name);
  if (o.seqLen !== undefined && o.seqLen < 2) throw new ArgumentRangeError(`--seq-len must be at least 2 (a loss predicts token t+1 from position t), got ${o.seqLen}`);
  if (o.evalSeqLen !== undefined && o.evalSeqLen < 2) throw new ArgumentRangeError(`--eval-seq-len must be at least 2, got ${o.evalSeqLen}`);
  if (o.seed !== undefined && (!Number.isInteger(o.seed) || o.seed < 0)) throw new ArgumentRangeError(`--seed must be a non-negative integer, got ${String(o.seed)}`);
  if (o.calibSampling !== undefined && o.calibSampling !== 'random' && o.calibSampling !== 'contiguous')
    throw new ArgumentRangeError(`--calib-sampling must be random or contiguous, got ${String(o.calibSampling)}`);
  const weightDecay = o.weightDecay ?? 0;
  finiteIn(weightDecay, '--weight-decay', 0, 1e3, false);
  if (o.lr * weightDecay >= 1) throw new ArgumentRangeError(`--lr x --weight-decay must be below 1 (each step multiplies the weights by 1 - lr*wd), got ${o.lr * weightDecay}`);
  if (o.beta1 !== undefined) finiteIn(o.beta1, 'beta1', 0, 0.999999, false);
  if (o.beta2 !== undefined) finiteIn(o.beta2, 'beta2', 0, 0.999999, false);
  if (o.eps !== undefined) finiteIn(o.eps, 'eps', 0, 1, true);
  const ewcData = o.ewcData ?? o.ewcTokens;
  if (o.ewcData && o.ewcTokens) throw new ArgumentRangeError('give one of --ewc-data or --ewc-tokens, not both');
  if (o.ewcLambda !== undefined && !ewcData)
    throw new ArgumentRangeError('--ewc-lambda needs --ewc-data FILE (general text for the Fisher diagonal, e.g. the calibration corpus) or --ewc-tokens IDS.json');
  if (ewcData && o.ewcLambda === undefined) throw new ArgumentRangeError(`${o.ewcData ? '--ewc-data' : '--ewc-tokens'} needs --ewc-lambda (the strength of the pull toward the input weights)`);
  const ewcLambda = o.ewcLambda;
  if (ewcLambda !== undefined) finiteIn(ewcLambda, '--ewc-lambda', 0, 1e30, false);
  if (o.dtype !== undefined && !isDType(o.dtype)) throw new ArgumentRangeError(`--dtype must be f32, f16 or bf16, got '${String(o.dtype)}'`);
  if (o.data) readableFile(o.data, 'training data (--data)');
  if (o.dataTokens) readableFile(o.dataTokens, 'training token ids (--data-tokens)');
  if (o.ewcData) readableFile(o.ewcData, 'EWC data (--ewc-data)');
  if (o.ewcTokens) readableFile(o.ewcTokens, 'EWC token ids (--ewc-tokens)');
  if (o.eval) readableFile(o.eval, 'evaluation text (--eval)');
  const format = targetFormat(o.out);
  const kind = format === 'hf' ? 'dir' : 'file';
  const opts = { force: o.force, inputPath: o.model };
  checkOutput(o.out, kind, opts);
  const reportPath = reportPathOf(o.out, format);
  if (format === 'gguf') checkOutput(reportPath, 'file', opts);
  const checkpoints: CheckedFinetune['checkpoints'] = [];
  if (o.saveEvery !== undefined)
    for (let s = o.saveEvery; s < o.steps; s += o.saveEvery) {
      const out = checkpointPath(o.out, s);
      checkOutput(out, kind, opts);
      const rp = reportPathOf(out, format);
      if (format === 'gguf') checkOutput(rp, 'file', opts);
      checkpoints.push({ step: s, out, reportPath: rp });
    }
  return { format, reportPath, batch, weightDecay, ewcLambda, checkpoints };
}
