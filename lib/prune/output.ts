// Publishing a run's outputs together: the pruned model (a directory or a .gguf file)
// and its prune-report.json are written under a staging folder beside the target and
// renamed into place only when both are complete and the run was not cancelled
// meanwhile. A failed or cancelled run leaves nothing behind, not even a model without
// its report. The tokenizer is converted for the output's format up front.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError } from '../errors';
import { checkOutput, OutputOptions } from '../formats/atomic';
import { LoadedModel, TokenizerArtifacts } from '../model/types';
import { tokenizerArtifacts } from '../tokenizer/artifacts';

export interface Target {
  path: string;
  kind: 'file' | 'dir';
}

/**
 * Calls `write(staged)` with one staging path per target (same base names, in a
 * `.shears-tmp-*` folder beside the first target; every target must share its folder),
 * then moves each staged path onto its target. The staging folder is always removed.
 */
export async function publishTogether<T>(
  targets: readonly Target[],
  opts: OutputOptions & { signal?: AbortSignal },
  write: (staged: string[]) => Promise<T>,
): Promise<T> {
  const finals = targets.map((t) => checkOutput(t.path, t.kind, opts).final);
  const parent = path.dirname(finals[0]);
  if (finals.some((f) => path.dirname(f) !== parent)) throw new Error('publishTogether: every target must be in the same folder');
  const staging = fs.mkdtempSync(path.join(parent, `.shears-tmp-${path.basename(finals[0])}-`));
  try {
    const staged = finals.map((f) => path.join(staging, path.basename(f)));
    const result = await write(staged);
    opts.signal?.throwIfAborted();
    targets.forEach((t, i) => {
      const { exists } = checkOutput(t.path, t.kind, opts);
      if (!fs.existsSync(staged[i])) throw new Error(`publishTogether: ${staged[i]} was not written`);
      if (exists && t.kind === 'dir') {
        // Directories cannot be renamed over: move the old one into the staging folder (removed below).
        fs.renameSync(finals[i], path.join(staging, `old-${i}`));
      }
      fs.renameSync(staged[i], finals[i]);
    });
    return result;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
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
