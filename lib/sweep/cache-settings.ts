// The settings every cached cell of a sweep depends on: saved as DIR/sweep.json when a
// sweep opens its folder, compared by --resume, and checked by a distributed worker
// (lib/distributed/worker.ts) before it computes a cell into that folder, so that a
// worker that sees other files (another checkpoint at the same path) refuses.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { DEFAULT_ACTIVATION_THRESHOLD } from '../prune/statistics';
import type { SweepOptions } from './options';

/** Size and modification time of the checkpoint's files (weights and config). */
function modelStamp(p: string): string[] {
  const stamp = (f: string) => {
    const st = fs.statSync(f);
    return `${path.basename(f)}:${st.size}:${Math.round(st.mtimeMs)}`;
  };
  if (!fs.existsSync(p)) return [];
  if (!fs.statSync(p).isDirectory()) return [stamp(p)];
  return fs
    .readdirSync(p)
    .filter((f) => f === 'config.json' || /\.(safetensors|gguf|bin)$/i.test(f))
    .sort()
    .map((f) => stamp(path.join(p, f)));
}

/** Settings every cached result depends on (a resumed sweep must match them). */
export function cacheSettings(o: SweepOptions): Record<string, unknown> {
  const abs = (p?: string) => (p === undefined ? null : path.resolve(p));
  return {
    model: abs(o.model),
    // A retrained or replaced checkpoint at the same path invalidates the cache.
    model_files: modelStamp(o.model),
    tokenizer: abs(o.tokenizer),
    calib: abs(o.calib),
    calib_tokens: abs(o.calibTokens),
    calib_samples: o.calibSamples ?? 128,
    seq_len: o.seqLen ?? null,
    calib_sampling: o.calibSampling ?? 'random',
    seed: o.seed ?? 0,
    eval: abs(o.eval),
    eval_tokens: abs(o.evalTokens),
    eval_seq_len: o.evalSeqLen ?? null,
    max_windows: o.maxWindows ?? null,
    queries: abs(o.queries),
    ...(o.speed ? { speed: true } : {}),
    ...(o.methodLevels ? { method_levels: o.methodLevels } : {}),
    stats: o.stats ?? 'exact',
    hessian_precision: o.hessianPrecision ?? 'f64',
    activation_threshold: o.activationThreshold ?? DEFAULT_ACTIVATION_THRESHOLD,
    structure: o.structure ?? null,
    uniform: o.uniform ?? false,
    multiple_of: o.multipleOf ?? 8,
    head_unit: o.headUnit ?? 'group',
    // Only when given, so that sweeps made before --alpha existed still resume.
    ...(o.alpha !== undefined ? { alpha: o.alpha } : {}),
    ...Object.fromEntries((['base', 'bits', 'score', 'permute', 'episodes'] as const).filter((k) => o[k] !== undefined).map((k) => [k, o[k]])),
  };
}
