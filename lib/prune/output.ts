// Publishing a run's outputs together: the pruned model (a directory or a .gguf file)
// and its prune-report.json are written in the run's scratch folder beside the target
// and published (lib/formats/publish.ts: never over an existing output without force,
// even one another run wrote meanwhile) only when both are complete and the run was not
// cancelled meanwhile. If one cannot be published, the other is taken back: a failed or
// cancelled run leaves nothing behind, not even a model without its report. The
// tokenizer is converted for the output's format up front.
import * as path from 'node:path';

import { NotImplementedError } from '../errors';
import { checkOutput, OutputOptions } from '../formats/atomic';
import { asOutputError } from '../formats/output-error';
import { Published, publishPath, unpublish } from '../formats/publish';
import { LoadedModel, TokenizerArtifacts } from '../model/types';
import { tokenizerArtifacts } from '../tokenizer/artifacts';
import { Scratch } from '../util/scratch';

export interface Target {
  path: string;
  kind: 'file' | 'dir';
}

/**
 * Calls `write(staged)` with one path per target in `scratch` (which must be in the
 * targets' folder; every target must share it), then publishes each staged path onto
 * its target. System errors while writing become OutputErrors naming the target.
 */
export async function publishTogether<T>(
  targets: readonly Target[],
  opts: OutputOptions & { signal?: AbortSignal },
  scratch: Scratch,
  write: (staged: string[]) => Promise<T>,
): Promise<T> {
  const finals = targets.map((t) => checkOutput(t.path, t.kind, opts).final);
  const folder = path.dirname(finals[0]);
  if (finals.some((f) => path.dirname(f) !== folder) || path.dirname(scratch.dir) !== folder)
    throw new Error('publishTogether: every target and the scratch folder must be in the same folder');
  const staged = finals.map((f, i) => scratch.path(`out-${i}-${path.basename(f)}`));
  const published: Published[] = [];
  try {
    const result = await write(staged);
    opts.signal?.throwIfAborted();
    targets.forEach((t, i) => {
      published.push(publishPath(staged[i], finals[i], { kind: t.kind, force: opts.force ?? false, target: t.path, aside: scratch.path(`replaced-${i}`) }));
    });
    return result;
  } catch (e) {
    for (const p of published.reverse()) unpublish(p);
    throw asOutputError(e, targets[0].path, folder, scratch.dir);
  }
}

/**
 * The tokenizer in the output's format, converted before any pruning so that a
 * tokenizer the target cannot hold fails in seconds, not after the run. Undefined when
 * the writer copies or keeps it as it is (or the model has none: the writer warns).
 */
export async function tokenizerForOutput(model: LoadedModel, format: 'hf' | 'gguf'): Promise<TokenizerArtifacts | undefined> {
  const src = model.tokenizer;
  if (src.kind === 'none' || (format === 'hf' && model.format === 'hf' && src.kind === 'hf') || (format === 'gguf' && model.format === 'gguf'))
    return undefined;
  const a = await tokenizerArtifacts(src, { vocabSize: model.config.vocabSize, contextLength: model.config.contextLength });
  try {
    if (format === 'gguf') void a.ggufEntries; // converted on access
  } catch (e) {
    if (e instanceof NotImplementedError)
      throw new NotImplementedError(`${e.message}; write a Hugging Face folder instead (an --out path without .gguf)`);
    throw e;
  }
  return a;
}
