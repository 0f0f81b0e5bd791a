// Writing outputs safely: everything is written in a scratch folder beside the target
// (lib/util/scratch.ts) and published onto the target only when complete
// (lib/formats/publish.ts: never over something that exists, unless force). The model
// being read is never a target; on any error or stop the scratch folder is removed.
//
// Symbolic links: a target whose last component is a symbolic link (to a file, a
// directory, or nothing) is refused, with --force too. Writing through it would replace
// whatever it points to (possibly far from the path the user typed); replacing the link
// itself would silently turn a link the user made on purpose into a copy. The user
// decides: give the real path, or remove the link. Links in the folders above the
// target are followed as usual.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { cleanStaleScratch, Scratch } from '../util/scratch';
import { asOutputError, OutputError } from './output-error';
import { publishPath } from './publish';

export { OutputError };

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

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** The folder that receives `target` (and its scratch folder), symlinks resolved. */
export function outputFolder(target: string): string {
  const parent = path.dirname(path.resolve(target));
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(parent);
  } catch {
    /* reported below */
  }
  if (!st?.isDirectory()) throw new OutputError(`${target}: the folder ${parent} does not exist`);
  return fs.realpathSync(parent);
}

/**
 * Checks that `target` may be written (its folder exists, it is not a symbolic link, not
 * the input model, and does not exist unless force) and returns its resolved path.
 * Cheap: callers run it before loading anything, and writeAtomically runs it again.
 */
export function checkOutput(target: string, kind: 'file' | 'dir', opts: OutputOptions): { final: string; exists: boolean } {
  const final = path.join(outputFolder(target), path.basename(path.resolve(target)));
  const st = lstatOrUndefined(final);
  if (st?.isSymbolicLink()) {
    const to = fs.readlinkSync(final);
    throw new OutputError(
      `${target} is a symbolic link (to ${to}${fs.existsSync(final) ? '' : ', which does not exist'}); ` +
        'shears neither writes through links nor replaces them: give the real path, or remove the link',
    );
  }
  if (opts.inputPath) {
    const input = real(opts.inputPath);
    if (inside(final, input) || inside(input, final))
      throw new OutputError(`${target}: refusing to write over or into the input model ${opts.inputPath}`);
  }
  if (st) {
    if (kind === 'file' && st.isDirectory()) throw new OutputError(`${target} is a directory; a file is needed here`);
    if (kind === 'dir' && !st.isDirectory()) throw new OutputError(`${target} is a file; a directory is needed here`);
    if (!opts.force) throw new OutputError(`${target} already exists (use --force to replace it)`);
  }
  return { final, exists: st !== undefined };
}

/** A new scratch folder beside `target`; a failure (read-only, full, no permission) is an OutputError naming the folder. */
export function scratchBeside(target: string): Scratch {
  const folder = outputFolder(target);
  try {
    return Scratch.create(folder);
  } catch (e) {
    throw asOutputError(e, target, folder);
  }
}

/**
 * A whole run that writes `target` (prune, finetune): first the scratch left beside it by
 * killed runs is removed (`warn` says so), then `run` gets a fresh scratch folder, which is
 * removed however it ends; a system error about that folder becomes an OutputError.
 */
export async function inRunScratch<T>(target: string, warn: (message: string) => void, run: (scratch: Scratch) => Promise<T>): Promise<T> {
  const folder = outputFolder(target);
  const stale = cleanStaleScratch(folder);
  if (stale) warn(stale);
  const scratch = scratchBeside(target);
  try {
    return await run(scratch);
  } catch (e) {
    throw asOutputError(e, target, folder, scratch.dir);
  } finally {
    scratch.remove();
  }
}

/**
 * Runs `write(tempPath)` with a path in a fresh scratch folder and publishes the result
 * onto `target` (a file or a directory, per `kind`): never over an existing target
 * without force, even one that appeared meanwhile. The scratch folder is always removed.
 */
export async function writeAtomically<T>(
  target: string,
  kind: 'file' | 'dir',
  opts: OutputOptions,
  write: (tempPath: string) => Promise<T>,
): Promise<T> {
  const { final } = checkOutput(target, kind, opts);
  const scratch = scratchBeside(target);
  try {
    const temp = scratch.path(path.basename(final));
    if (kind === 'dir') fs.mkdirSync(temp);
    const result = await write(temp);
    publishPath(temp, final, { kind, force: opts.force ?? false, target, aside: scratch.path('replaced') });
    return result;
  } catch (e) {
    throw asOutputError(e, target, path.dirname(final), scratch.dir);
  } finally {
    scratch.remove();
  }
}

/** Writes all of `data` at the current position of `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}
