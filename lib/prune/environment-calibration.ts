// The calibration of a method that learns from the query environment (query-aware):
// --calib's queries, each followed by the dense model's own continuation of up to
// --generate-tokens tokens (lib/queries/environment.ts; greedy, or sampled with
// --temperature / --top-k seeded by --seed), joined into one token stream and cut into
// --calib-samples windows of --seq-len tokens as a token-id calibration file would be
// (random windows by default, seeded). The same windows feed the
// statistics of the pipeline and the distillation afterwards. With --allocation
// sensitivity, the environment's sequences also give each block's measured KL curve and
// the per-block sparsities (lib/queries/sensitivity.ts, allocation.ts).
import { CalibrationSet, windowsFromStream } from '../calibration/sample';
import { ArgumentRangeError } from '../errors';
import { ForwardModel } from '../forward/model';
import { LoadedModel } from '../model/types';
import type { Strategy } from '../strategies';
import { allocateSparsity, Allocation } from '../queries/allocation';
import { checkSampling } from '../forward/sampling';
import { buildEnvironment, QuerySequence } from '../queries/environment';
import { readQueries } from '../queries/read';
import { measureSensitivity } from '../queries/sensitivity';
import type { NativeBackend } from '../native/kernels';
import type { PruneOptions } from './options';

/** Tokens the dense model generates after each query when --generate-tokens is not given. */
export const DEFAULT_ENVIRONMENT_TOKENS = 32;

export interface EnvironmentCalibration {
  set: CalibrationSet;
  source: string;
  sequences: QuerySequence[];
}

/** What the environment is made from: the query file, the tokens generated, the windows drawn. */
export type EnvironmentArgs = Pick<PruneOptions, 'calib' | 'generateTokens' | 'temperature' | 'topK' | 'calibSamples' | 'seqLen' | 'calibSampling' | 'seed' | 'signal'>;

/** `model` must still be dense: it writes the continuations. */
export async function environmentCalibration(model: LoadedModel, o: EnvironmentArgs, backend: NativeBackend): Promise<EnvironmentCalibration> {
  if (!o.calib) throw new ArgumentRangeError('query-aware learns from your queries: give them as text with --calib (one per line, or JSONL), not as token ids');
  const source = o.calib;
  const generateTokens = o.generateTokens ?? DEFAULT_ENVIRONMENT_TOKENS;
  // Room for the continuation inside the context: longer queries keep their first tokens.
  const room = Math.max(1, model.config.contextLength - generateTokens);
  const queries = await readQueries(model, source, o.signal, { cutTo: room });
  const sampling = checkSampling({ temperature: o.temperature, topK: o.topK, seed: o.seed ?? 0 });
  const sequences = await buildEnvironment(new ForwardModel(model, { backend }), queries, { ...sampling, generateTokens, signal: o.signal });
  const stream = new Int32Array(sequences.reduce((n, q) => n + q.ids.length, 0));
  let at = 0;
  for (const q of sequences) {
    stream.set(q.ids, at);
    at += q.ids.length;
  }
  const generated = sequences.reduce((n, q) => n + q.ids.length - q.answerStart, 0);
  const set = windowsFromStream(
    stream,
    {
      samples: o.calibSamples ?? 128,
      seqLen: o.seqLen ?? Math.min(2048, model.config.contextLength),
      sampling: o.calibSampling ?? 'random',
      seed: o.seed ?? 0,
    },
    source,
  );
  set.notes.push(
    `the query environment: ${sequences.length} queries, each followed by up to ${generateTokens} ${sampling.greedy ? 'greedy' : `sampled (temperature ${sampling.temperature}, top-k ${sampling.topK}, seed ${sampling.seed})`} tokens of the dense model (${generated} generated), ${stream.length} tokens in all`,
  );
  if (queries.cut > 0)
    set.notes.push(`${queries.cut} of the ${queries.ids.length} queries were longer than ${room} tokens (the context ${model.config.contextLength} less the ${generateTokens} generated) and kept their first ${room}`);
  return { set, source, sequences };
}

/** Levels at which each block's KL is measured for --allocation sensitivity. */
const SENSITIVITY_LEVELS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * Per-block sparsities at the same parameter-weighted mean, from each block's measured KL
 * on the environment's answers with the other blocks at the target (the operating point),
 * within [target - 0.2, target + 0.2] clipped to the measured levels.
 */
export async function sensitivityAllocation(model: LoadedModel, env: EnvironmentCalibration, prior: Strategy, target: number, o: { backend: NativeBackend; signal?: AbortSignal }): Promise<Allocation> {
  const levels = SENSITIVITY_LEVELS;
  const curves = await measureSensitivity(new ForwardModel(model, { backend: o.backend }), env.sequences, { strategy: prior, levels, others: target, signal: o.signal });
  const min = Math.max(levels[0], target - 0.2);
  const max = Math.min(levels[levels.length - 1], target + 0.2);
  return allocateSparsity(levels, curves.blocks, { target, min: Math.min(min, target), max: Math.max(max, target) });
}
