// Moving a finished output from its scratch folder onto its final path without
// clobbering what another process put there meanwhile.
//
// Without force nothing existing is ever replaced, even if it appeared after the
// up-front check (two runs racing to the same --out): a file is published with link(),
// which fails with EEXIST when the name is taken (the staged name is removed with the
// scratch folder); where the filesystem has no hard links, the name is claimed with
// O_CREAT|O_EXCL first and the complete file renamed over the claim. A directory is
// published with rename(), which refuses a non-empty directory or a file at the target.
// With force, a file is replaced in one rename(); a directory cannot be (Linux has no
// portable atomic exchange from Node), so the old one is moved into the scratch folder
// first and moved back if the new one cannot be put in its place. unpublish() undoes
// a publication (when a later one of the same run fails), touching only what is ours.
import * as fs from 'node:fs';

import { OutputError } from './output-error';

export interface Published {
  final: string;
  /** Inode of what was published: a rollback removes the final path only if it still is ours. */
  ino: number;
  /** Where the replaced file or directory went (force), for a rollback. */
  aside?: string;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

function alreadyExists(target: string, e?: unknown): OutputError {
  return new OutputError(`${target} already exists (another run wrote it meanwhile?); use --force to replace it`, { cause: e });
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Filesystems without hard links (FAT, some FUSE and network mounts) answer these. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

function publishFile(staged: string, final: string, target: string, force: boolean, aside: string): string | undefined {
  if (force) {
    const old = lstat(final);
    if (old?.isDirectory()) throw new OutputError(`${target} is a directory; a file is needed here`);
    let kept: string | undefined;
    try {
      if (old) fs.linkSync(final, aside); // keeps the old file reachable for a rollback
      kept = old ? aside : undefined;
    } catch {
      /* no hard links here: a rollback cannot restore the old file */
    }
    fs.renameSync(staged, final);
    return kept;
  }
  try {
    fs.linkSync(staged, final);
    return undefined;
  } catch (e) {
    if (code(e) === 'EEXIST') throw alreadyExists(target, e);
    if (!NO_LINKS.has(code(e) ?? '')) throw e;
  }
  let claim: number;
  try {
    const fd = fs.openSync(final, 'wx');
    claim = fs.fstatSync(fd).ino;
    fs.closeSync(fd);
  } catch (e) {
    if (code(e) === 'EEXIST') throw alreadyExists(target, e);
    throw e;
  }
  try {
    fs.renameSync(staged, final);
  } catch (e) {
    if (lstat(final)?.ino === claim) fs.rmSync(final, { force: true }); // our empty claim, not a file
    throw e;
  }
  return undefined;
}

function publishDir(staged: string, final: string, target: string, force: boolean, aside: string): string | undefined {
  const old = lstat(final);
  let moved: string | undefined;
  if (old) {
    if (!old.isDirectory()) throw new OutputError(`${target} exists and is not a directory (a directory is needed here)`);
    if (!force) throw alreadyExists(target);
    fs.renameSync(final, aside);
    moved = aside;
  }
  try {
    fs.renameSync(staged, final);
  } catch (e) {
    if (moved) fs.renameSync(moved, final); // back as it was
    if (['ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes(code(e) ?? '')) throw alreadyExists(target, e);
    throw e;
  }
  return moved;
}

/**
 * Publishes `staged` (a file or directory inside a scratch folder) as `final`. `aside`
 * is a free path in the same scratch folder for what --force replaces. `target` is the
 * path as the user gave it, for messages.
 */
export function publishPath(staged: string, final: string, o: { kind: 'file' | 'dir'; force: boolean; target: string; aside: string }): Published {
  const ino = fs.lstatSync(staged).ino;
  const publish = o.kind === 'file' ? publishFile : publishDir;
  return { final, ino, aside: publish(staged, final, o.target, o.force, o.aside) };
}

/** Undoes publishPath as far as is safe: removes the final path if it is still ours, restores what it replaced. */
export function unpublish(p: Published): void {
  try {
    if (lstat(p.final)?.ino !== p.ino) return; // replaced by another run since: not ours to touch
    fs.rmSync(p.final, { recursive: true, force: true });
    if (p.aside) fs.renameSync(p.aside, p.final);
  } catch {
    /* best effort: the error that caused the rollback is the one reported */
  }
}
