// `finetune()`: recovery fine-tuning of a pruned model with its mask held fixed. Checks
// everything it can before loading anything, loads the model, draws the training
// sequences as calibration windows are drawn (lib/prune/calibrate.ts), optionally
// computes the Fisher diagonal for EWC, runs AdamW on the next-token loss
// (lib/backward/gradients.ts) with every pruned weight held at exactly zero, writes
// checkpoints and the final model with finetune-report.json, each published atomically
// (lib/prune/output.ts). A stopped or failed run leaves no partial output; checkpoints
// already published stay (they are complete models).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CalibrationSet } from '../calibration/sample';
import { ArgumentRangeError } from '../errors';
import { perplexity } from '../eval/perplexity';
import { readEvalText } from '../eval/text';
import { inRunScratch } from '../formats/atomic';
import { writeModelAs } from '../formats/convert';
import { loadModel } from '../formats/load';
import { ForwardModel } from '../forward/model';
import { LoadedModel, Tensor } from '../model/types';
import { drawCalibration } from '../prune/calibrate';
import { publishTogether, Target, tokenizerForOutput } from '../prune/output';
import { inputChecksum, peakRssBytes, shearsVersion } from '../prune/report';
import { tokenizerArtifacts } from '../tokenizer/artifacts';
import { loadTokenizer } from '../tokenizer/load';
import { untilAborted } from '../util/abortable';
import { PhaseClock } from '../util/clock';
import { Scratch } from '../util/scratch';
import { AdamW, EwcTerm } from './adamw';
import { ADAM_DEFAULTS, trainMasked } from './train';
import { empiricalFisher, fisherSummary } from './fisher';
import { castKeepingZeros, checkMasks, MaskNotPreservedError, MatrixMask, pruneMasks } from './mask';
import { checkFinetuneOptions, CheckedFinetune, FinetuneOptions, FinetuneProgress } from './options';
import { CHECKSUM_OF, FinetuneReport } from './report';

export type { FinetuneOptions, FinetuneProgress, FinetuneReport };

export { MaskNotPreservedError };

export async function finetune(o: FinetuneOptions): Promise<FinetuneReport> {
  const clock = new PhaseClock();
  const elapsed = () => clock.elapsed();
  const checked = checkFinetuneOptions(o);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    o.onWarning?.(m);
  };
  const progress = (stage: FinetuneProgress['stage'], done: number, total: number, label: string, loss?: number) =>
    o.onProgress?.({ stage, done, total, label, loss, elapsedSeconds: elapsed() });
  o.signal?.throwIfAborted();
  return inRunScratch(o.out, warn, async (scratch) => {
    progress('load', 0, 1, 'loading the model');
    const model = await clock.time('load', () => untilAborted(loadModel(o.model, { tokenizer: o.tokenizer }), o.signal, (m) => m.close()));
    const releases: (() => void)[] = [];
    try {
      return await trainAndWrite(model, o, checked, { scratch, clock, progress, warn, warnings, releases });
    } finally {
      for (const release of releases) release();
      model.close();
    }
  });
}

type Progress = (stage: FinetuneProgress['stage'], done: number, total: number, label: string, loss?: number) => void;

interface RunContext {
  scratch: Scratch;
  clock: PhaseClock;
  progress: Progress;
  warn: (m: string) => void;
  warnings: string[];
  /** What to release once the run ends (the Fisher diagonal's scratch pages). */
  releases: (() => void)[];
}

async function trainAndWrite(model: LoadedModel, o: FinetuneOptions, checked: CheckedFinetune, ctx: RunContext): Promise<FinetuneReport> {
  const { scratch, clock, progress, warn, warnings } = ctx;
  const signal = o.signal;
  const masks = pruneMasks(model);
  const prunedWeights = masks.reduce((a, m) => a + m.zeros, 0);
  if (prunedWeights === 0) warn(`${o.model} has no pruned weights (no zero in its block linear layers): every weight is trained`);
  const artifacts = await tokenizerForOutput(model, checked.format);
  const calib = { calibSamples: o.calibSamples, seqLen: o.seqLen, calibSampling: o.calibSampling, seed: o.seed, signal, onWarning: warn };
  progress('data', 0, 1, 'drawing the training sequences');
  const drawnData = await clock.time('data', () => drawCalibration(model, { ...calib, calib: o.data, calibTokens: o.dataTokens }));
  const data = drawnData.set;
  const evalSeqLen = o.evalSeqLen ?? data.seqLen;
  // As `shears eval` refuses it: windows past the context length score positions the model never saw.
  if (o.eval && evalSeqLen > model.config.contextLength)
    throw new ArgumentRangeError(`--eval-seq-len ${evalSeqLen} exceeds the model's context length ${model.config.contextLength} (${o.model})`);
  let evalIds: Int32Array | undefined;
  if (o.eval) {
    const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
    evalIds = Int32Array.from(tok.encode(readEvalText(o.eval), { bos: true }));
  }
  const evaluate = async (when: string) =>
    clock.time('eval', () =>
      perplexity(new ForwardModel(model), evalIds!, {
        seqLen: evalSeqLen,
        maxWindows: o.evalWindows,
        onProgress: (d, t) => progress('eval', d, t, `perplexity ${when}`),
      }),
    );
  const before = evalIds ? await evaluate('before') : undefined;

  // EWC: the Fisher diagonal and the anchor, both from the input model. The anchor is the
  // input's own tensors (mapped views, any dtype): AdamW trains owned copies of them.
  let ewc: EwcTerm | undefined;
  let ewcInfo: { set: CalibrationSet; source: string; loss: number } | undefined;
  if (checked.ewcLambda !== undefined) {
    if (checked.ewcLambda === 0) warn('--ewc-lambda 0: the EWC term is zero, the same steps as without EWC');
    const drawn = await clock.time('data', () => drawCalibration(model, { ...calib, calib: o.ewcData, calibTokens: o.ewcTokens }));
    const f = await clock.time('fisher', () =>
      empiricalFisher(model, drawn.set, { signal, scratch, onSequence: (d, t) => progress('fisher', d, t, 'Fisher diagonal (EWC)') }),
    );
    ctx.releases.push(f.release);
    const anchor = new Map([...f.sumSq.keys()].map((name) => {
      const t = model.tensors.get(name)!;
      return [name, { data: t.data, dtype: t.dtype }];
    }));
    ewc = { lambda: checked.ewcLambda, fisher: f.sumSq, fisherScale: f.scale, anchor };
    ewcInfo = { set: drawn.set, source: drawn.source, loss: f.meanLoss };
  }

  const keep = new Map(masks.map((m) => [m.name, m.keep]));
  const hyper = { lr: o.lr, weightDecay: checked.weightDecay, beta1: o.beta1 ?? ADAM_DEFAULTS.beta1, beta2: o.beta2 ?? ADAM_DEFAULTS.beta2, eps: o.eps ?? ADAM_DEFAULTS.eps };
  const losses: number[] = [];
  let opt: AdamW | undefined;
  const published: { step: number; path: string }[] = [];
  const pending = [...checked.checkpoints];
  const inputChecksumOf = inputChecksum(model);
  const report = (step: number, out: string, reportPath: string, mask: FinetuneReport['mask'], written: { tokenizer: string }, dtype: string, after?: number): FinetuneReport => ({
    shears_version: shearsVersion(),
    created: new Date().toISOString(),
    kind: 'finetune',
    input: { path: path.resolve(o.model), format: model.format, architecture: model.config.architecture, checksum: inputChecksumOf, checksum_of: 'config and tensor table (names, dtypes, shapes)' },
    data: { source: path.resolve(drawnData.source), samples: data.samples, seq_len: data.seqLen, sampling: data.sampling, seed: data.seed, packed: data.packed, notes: data.notes },
    optimizer: {
      name: 'adamw',
      ...{ lr: hyper.lr, beta1: hyper.beta1, beta2: hyper.beta2, eps: hyper.eps, weight_decay: hyper.weightDecay },
      weight_decay_applies_to: 'weight matrices (rank-2 tensors: linear layers, embeddings, LM head); norms and biases never decay',
      batch: checked.batch,
      steps: step,
      sequences: step * checked.batch,
    },
    trained: { tensors: opt!.names.length, parameters: opt!.names.reduce((a, n) => a + model.tensors.get(n)!.data.length, 0) - prunedWeights, held_at_zero: prunedWeights },
    ewc:
      ewc && ewcInfo
        ? {
            lambda: ewc.lambda,
            source: path.resolve(ewcInfo.source),
            samples: ewcInfo.set.samples,
            seq_len: ewcInfo.set.seqLen,
            input_loss: ewcInfo.loss,
            ...fisherSummary(ewc.fisher, ewc.fisherScale),
            penalty_after: opt!.ewcPenalty(),
          }
        : null,
    losses: losses.slice(0, step),
    eval:
      before && after !== undefined
        ? { source: path.resolve(o.eval!), seq_len: before.seqLen, windows: before.windows, perplexity_before: before.perplexity, perplexity_after: after }
        : null,
    mask,
    checkpoints: [...published],
    timings: { ...clock.timings, total: clock.elapsed() },
    peak_rss_bytes: peakRssBytes(),
    output: { path: path.resolve(out), format: checked.format, dtype, tokenizer: written.tokenizer, report: path.resolve(reportPath) },
    notes: [...warnings],
  });
  await trainMasked({
    model,
    data,
    steps: o.steps,
    batch: checked.batch,
    seed: o.seed ?? 0,
    hyper,
    keep,
    ewc,
    clock,
    signal,
    modelLabel: o.model,
    onStep: async (step, loss, trained) => {
      opt = trained;
      losses.push(loss);
      o.onStep?.(step, loss);
      progress('train', step, o.steps, `step ${step}/${o.steps}, loss ${loss.toFixed(4)}`, loss);
      if (pending.length > 0 && pending[0].step === step) {
        const c = pending.shift()!;
        progress('checkpoint', step, o.steps, `checkpoint after step ${step}`);
        await clock.time('checkpoint', () => publishModel(step, c.out, c.reportPath));
        published.push({ step, path: path.resolve(c.out) });
      }
    },
  });
  const after = before ? (await evaluate('after')).perplexity : undefined;
  progress('write', 0, 1, 'writing the model');
  const final = await clock.time('write', () => publishModel(o.steps, o.out, checked.reportPath, after));
  progress('done', 1, 1, 'done');
  return final;

  /** Writes the model as it is now (cast to --dtype keeping the zeros) with its report; refuses if the mask moved. */
  async function publishModel(step: number, out: string, reportPath: string, after?: number): Promise<FinetuneReport> {
    const written = await writable(model, o.dtype, masks);
    const checks = checkMasks(masks, written);
    const broken = checks.find((c) => !c.preserved);
    if (broken)
      throw new MaskNotPreservedError(
        `${broken.name}: the zeros moved (${broken.zeros_before} before, ${broken.zeros_after} after, ${broken.pruned_nonzero_after} pruned weights nonzero); nothing was written`,
      );
    const mask = { preserved: true, pruned_weights: prunedWeights, checksum_of: CHECKSUM_OF, matrices: checks };
    const targets: Target[] = checked.format === 'hf' ? [{ path: out, kind: 'dir' }] : [{ path: out, kind: 'file' }, { path: reportPath, kind: 'file' }];
    return publishTogether(targets, { force: o.force, inputPath: o.model, signal }, scratch, async (staged) => {
      const w = await writeModelAs(written, staged[0], {
        force: true,
        tokenizerArtifacts: async (src) => artifacts ?? (await tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength })),
        warn,
      });
      const dtype = [...new Set(masks.map((m) => written.tensors.get(m.name)!.dtype))].join(',') || 'as input';
      const r = report(step, out, reportPath, mask, w, dtype, after);
      fs.writeFileSync(checked.format === 'hf' ? path.join(staged[0], 'finetune-report.json') : staged[1], `${JSON.stringify(r, null, 2)}\n`);
      return r;
    });
  }
}

/** The model with every tensor in `dtype` (pruned matrices keep their zeros exactly); the model itself when no cast is needed. */
async function writable(model: LoadedModel, dtype: FinetuneOptions['dtype'], masks: readonly MatrixMask[]): Promise<LoadedModel> {
  if (!dtype) return model;
  const keep = new Map(masks.map((m) => [m.name, m.keep]));
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.tensors) tensors.set(name, await castKeepingZeros(t, dtype, keep.get(name)));
  return { ...model, tensors };
}
