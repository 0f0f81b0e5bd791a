// The data of a sweep, prepared once from the dense model: the calibration set, the
// evaluation token stream and the held-out queries, all as token ids.
import * as path from 'node:path';

import { readCalibrationDocuments, readTokenIds } from '../calibration/read';
import { CalibrationSet } from '../calibration/sample';
import { ArgumentRangeError, ShearsError } from '../errors';
import { readEvalText } from '../eval/text';
import { LoadedModel } from '../model/types';
import { chatRenderer } from '../prune/chat';
import { loadTokenizer } from '../tokenizer/load';
import { SweepOptions } from './options';
import { secondsSince } from '../util/clock';
import { drawCalibration } from '../prune/calibrate';

export interface SweepData {
  calibration?: CalibrationSet;
  /** Evaluation token stream (BOS once at the start when tokenized from text). */
  evalTokens: Int32Array;
  evalSeqLen: number;
  /** Token ids of each query (BOS first), at most the context length. */
  queries: Int32Array[];
  /** Where the queries came from: a file, or the evaluation windows. */
  queriesSource: string;
  /** True when the queries are the perplexity windows (one forward pass serves both). */
  queriesAreWindows: boolean;
  /** Perplexity windows evaluated (at most maxWindows). */
  windows: number;
  notes: string[];
  /** Seconds spent preparing each part. */
  timings: Record<string, number>;
}

const seconds = secondsSince;

export async function prepareData(model: LoadedModel, o: SweepOptions, needsCalibration: boolean): Promise<SweepData> {
  const cfg = model.config;
  const notes: string[] = [];
  const timings: Record<string, number> = {};
  let tokenizer: Awaited<ReturnType<typeof loadTokenizer>> | undefined;
  const tok = async () => (tokenizer ??= await loadTokenizer(model.tokenizer, { vocabSize: cfg.vocabSize }));

  let calibration: CalibrationSet | undefined;
  if (needsCalibration) {
    const t0 = process.hrtime.bigint();
    calibration = (await drawCalibration(model, o)).set;
    timings.calibration = seconds(t0);
  }

  let t0 = process.hrtime.bigint();
  const evalSeqLen = o.evalSeqLen ?? cfg.contextLength;
  if (evalSeqLen > cfg.contextLength) throw new ArgumentRangeError(`--eval-seq-len ${evalSeqLen} exceeds the model's context length ${cfg.contextLength}`);
  const evalTokens = o.evalTokens
    ? readTokenIds(o.evalTokens, cfg.vocabSize)
    : Int32Array.from((await tok()).encode(readEvalText(o.eval!), { bos: true }));
  const windows = Math.min(Math.floor(evalTokens.length / evalSeqLen), o.maxWindows ?? Infinity);
  if (windows < 1)
    throw new ShearsError(`the evaluation data (${o.eval ?? o.evalTokens}) has ${evalTokens.length} tokens, fewer than one window of ${evalSeqLen}`, 'E_ARGUMENT');
  timings.eval_tokenize = seconds(t0);

  t0 = process.hrtime.bigint();
  let queries: Int32Array[];
  let queriesSource: string;
  if (o.queries) {
    const docs = readCalibrationDocuments(o.queries, { renderChat: chatRenderer(model) });
    const t = await tok();
    let cut = 0;
    queries = docs.documents.map((d) => {
      const ids = t.encode(d, { bos: true });
      if (ids.length > cfg.contextLength) cut++;
      return Int32Array.from(ids.slice(0, cfg.contextLength));
    });
    if (queries.length === 0) throw new ShearsError(`no query in ${o.queries}`, 'E_ARGUMENT');
    if (cut > 0) notes.push(`${cut} queries longer than the context length (${cfg.contextLength}) were cut to it`);
    queriesSource = path.resolve(o.queries);
  } else {
    // No queries given: the perplexity windows themselves.
    queries = [];
    for (let w = 0; w < windows; w++) queries.push(evalTokens.slice(w * evalSeqLen, (w + 1) * evalSeqLen));
    queriesSource = `the ${windows} evaluation windows of ${evalSeqLen} tokens`;
  }
  timings.queries_tokenize = seconds(t0);
  return { calibration, evalTokens, evalSeqLen, queries, queriesSource, queriesAreWindows: !o.queries, windows, notes, timings };
}
