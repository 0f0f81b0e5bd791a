// Drawing the calibration set of a run from its CalibrationArgs (shared by prune and
// sweep): the papers' defaults (128 sequences of min(2048, context) tokens, random
// windows, seed 0), token ids used as they are, text and JSONL through the model's
// tokenizer (chat rows through its chat template), with notes for the report.
// The work runs on the event loop in time slices, with a turn between the long
// synchronous calls (loading the tokenizer): a service calling prune() stays responsive,
// and an abort is seen between slices. Same set as drawing it at once.
import { readCalibrationDocumentsSliced, readTokenIds } from '../calibration/read';
import { CalibrationArgs, CalibrationSet, sampleCalibrationSliced, windowsFromStream } from '../calibration/sample';
import { yieldTurn } from '../calibration/steps';
import { ArgumentRangeError } from '../errors';
import { LoadedModel } from '../model/types';
import { loadTokenizer } from '../tokenizer/load';
import { chatRenderer } from './chat';

/** The calibration set and the file it came from. `a` must name calib or calibTokens. */
export async function drawCalibration(
  model: LoadedModel,
  a: CalibrationArgs & { signal?: AbortSignal; onWarning?: (message: string) => void },
): Promise<{ set: CalibrationSet; source: string }> {
  const drawn = await drawSet(model, a);
  // Windows that repeat the data are news on the terminal, not only in the report.
  if (drawn.set.reuseWarning) a.onWarning?.(drawn.set.reuseWarning);
  return drawn;
}

async function drawSet(model: LoadedModel, a: CalibrationArgs & { signal?: AbortSignal }): Promise<{ set: CalibrationSet; source: string }> {
  const signal = a.signal;
  const cfg = model.config;
  const samples = a.calibSamples ?? 128;
  const seqLen = a.seqLen ?? Math.min(2048, cfg.contextLength);
  const sampling = a.calibSampling ?? 'random';
  const seed = a.seed ?? 0;
  if (seqLen > cfg.contextLength) throw new ArgumentRangeError(`--seq-len ${seqLen} exceeds the model's context length ${cfg.contextLength}`);
  if (a.calibTokens) {
    return { set: windowsFromStream(readTokenIds(a.calibTokens, cfg.vocabSize), { samples, seqLen, sampling, seed }, a.calibTokens), source: a.calibTokens };
  }
  const file = a.calib!;
  // The file first: its problems are the user's to fix, whatever the tokenizer.
  await yieldTurn(signal);
  const docs = await readCalibrationDocumentsSliced(file, { renderChat: chatRenderer(model), signal });
  await yieldTurn(signal);
  const tokenizer = await loadTokenizer(model.tokenizer, { vocabSize: cfg.vocabSize });
  await yieldTurn(signal);
  const set = await sampleCalibrationSliced(docs.documents, tokenizer, { samples, seqLen, sampling, seed }, file, { signal });
  if (docs.chat === 'template') set.notes.push("chat rows rendered with the model's chat template");
  if (docs.chat === 'plain') set.notes.push('chat rows rendered as "role: content" lines (the model has no chat template)');
  if (docs.skipped > 0) set.notes.push(`${docs.skipped} rows without usable text were skipped`);
  return { set, source: file };
}
