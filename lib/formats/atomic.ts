// Writing outputs safely: everything goes to a temporary name beside the target and
// is renamed into place only when complete. An existing target is replaced only with
// force; the model being read is never a target; on any error the temporary is removed.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ShearsError } from '../errors';

export class OutputError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_OUTPUT');
  }
}

export interface OutputOptions {
  force?: boolean;
  /** The model being read: the target may not be it, inside it, or contain it. */
  inputPath?: string;
}

function real(p: string): string {
  // Resolve symlinks of the longest existing prefix, so that aliases compare equal.
  const abs = path.resolve(p);
  if (fs.existsSync(abs)) return fs.realpathSync(abs);
  const parent = path.dirname(abs);
  return parent === abs ? abs : path.join(real(parent), path.basename(abs));
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Checks that `target` may be written (its folder exists, it is not the input model,
 * it does not exist unless force) and returns its resolved path. Cheap: callers run it
 * before loading anything, and writeAtomically runs it again.
 */
export function checkOutput(target: string, kind: 'file' | 'dir', opts: OutputOptions): { final: string; exists: boolean } {
  const final = real(target);
  const parent = path.dirname(final);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) throw new OutputError(`${target}: the folder ${parent} does not exist`);
  if (opts.inputPath) {
    const input = real(opts.inputPath);
    if (inside(final, input) || inside(input, final))
      throw new OutputError(`${target}: refusing to write over or into the input model ${opts.inputPath}`);
  }
  const exists = fs.existsSync(final);
  if (exists) {
    const isDir = fs.statSync(final).isDirectory();
    if (kind === 'file' && isDir) throw new OutputError(`${target} is a directory; a file is needed here`);
    if (kind === 'dir' && !isDir) throw new OutputError(`${target} is a file; a directory is needed here`);
    if (!opts.force) throw new OutputError(`${target} already exists (use --force to replace it)`);
  }
  return { final, exists };
}

/**
 * Runs `write(tempPath)` and renames the result onto `target` (a file or a directory,
 * per `kind`). The temporary file or directory is removed when `write` throws.
 */
export async function writeAtomically<T>(
  target: string,
  kind: 'file' | 'dir',
  opts: OutputOptions,
  write: (tempPath: string) => Promise<T>,
): Promise<T> {
  const { final, exists } = checkOutput(target, kind, opts);
  const parent = path.dirname(final);
  const temp = path.join(parent, `.shears-tmp-${path.basename(final)}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    if (kind === 'dir') fs.mkdirSync(temp);
    const result = await write(temp);
    if (kind === 'dir' && exists) {
      // Directories cannot be renamed over: move the old one aside first.
      const old = `${temp}.old`;
      fs.renameSync(final, old);
      fs.renameSync(temp, final);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(temp, final);
    }
    return result;
  } catch (e) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw e;
  }
}

/** Writes all of `data` at the current position of `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}
