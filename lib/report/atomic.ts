// Writes a file under a scratch name in the same folder (lib/util/scratch.ts: one that
// records this process, so a run killed mid-write leaves nothing a later run cannot
// tell from live scratch) and renames it into place, so a reader never sees a
// half-written file. The old file, if any, is replaced: these are report and cache
// files a run owns, unlike the model outputs of lib/formats/atomic.ts.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { asOutputError } from '../formats/output-error';
import { scratchFile } from '../util/scratch';

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const folder = path.dirname(path.resolve(file));
  const tmp = scratchFile(folder);
  try {
    await fs.writeFile(tmp.file, data);
    await fs.rename(tmp.file, file);
  } catch (e) {
    await fs.rm(tmp.file, { force: true });
    const typed = asOutputError(e, file, folder);
    throw typed === e ? new Error(`cannot write ${file}: ${(e as Error).message}`, { cause: e }) : typed;
  } finally {
    tmp.done();
  }
}
