// The folders a server may read and write (`--roots`). Every path a job names is
// resolved against the first root and must stay inside one of them: lexically (no `..`
// out of it) and once symbolic links are followed (the deepest part of the path that
// exists, resolved with realpath, lies inside a root's realpath), so a link inside a
// root cannot lead a job to a file outside. The server's own state folder is off limits.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentRangeError } from '../errors';

/** A path a job may not use; `option` is the job option that named it. */
export class PathOutsideRootsError extends ArgumentRangeError {
  constructor(
    readonly option: string,
    readonly requested: string,
    why: string,
  ) {
    super(`${option} ${requested}: ${why}`, 'E_PATH_OUTSIDE_ROOTS');
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

class DanglingLinkError extends Error {
  constructor(readonly link: string) {
    super(`${link} is a symbolic link to a missing target`);
  }
}

/** The realpath of the deepest existing ancestor of `abs`, with the missing tail appended. */
function realOfExisting(abs: string): string {
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...missing.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw e;
      // A link whose target is missing: where it would lead cannot be checked.
      if (fs.lstatSync(at, { throwIfNoEntry: false })?.isSymbolicLink()) throw new DanglingLinkError(at);
      const parent = path.dirname(at);
      if (parent === at) return abs;
      missing.push(path.basename(at));
      at = parent;
    }
  }
}

export class Roots {
  /** The roots as given, absolute. */
  readonly dirs: string[];
  private readonly real: string[];
  private readonly stateReal: string;

  /** `dirs` must exist and be folders; `stateDir` (created by the caller) is refused to jobs. */
  constructor(dirs: string[], stateDir: string) {
    if (dirs.length === 0) throw new ArgumentRangeError('--roots: give at least one folder');
    this.dirs = dirs.map((d) => path.resolve(d));
    this.real = this.dirs.map((d) => {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(d);
      } catch {
        /* said below */
      }
      if (!st?.isDirectory()) throw new ArgumentRangeError(`--roots: ${d} is not an existing folder`);
      return fs.realpathSync(d);
    });
    this.stateReal = realOfExisting(path.resolve(stateDir));
  }

  /**
   * The absolute path a job's `option` value names, resolved against the first root;
   * throws PathOutsideRootsError when it leaves the roots or enters the state folder.
   */
  resolve(option: string, value: string, o: { output?: boolean } = {}): string {
    if (value.includes('\0')) throw new PathOutsideRootsError(option, JSON.stringify(value), 'a path may not contain a NUL character');
    const abs = path.resolve(this.dirs[0], value);
    if (!this.dirs.some((d) => inside(abs, d))) throw new PathOutsideRootsError(option, value, `outside the server's roots (${this.dirs.join(', ')})`);
    let real: string;
    try {
      real = realOfExisting(abs);
    } catch (e) {
      const why = e instanceof DanglingLinkError ? `passes through a symbolic link to a missing target (${e.link})` : `cannot be resolved (${(e as Error).message})`;
      throw new PathOutsideRootsError(option, value, why);
    }
    if (!this.real.some((d) => inside(real, d)))
      throw new PathOutsideRootsError(option, value, `leads outside the server's roots through a symbolic link (to ${real})`);
    if (inside(real, this.stateReal)) throw new PathOutsideRootsError(option, value, "inside the server's state folder");
    // An output replaced with force would take with it what it contains.
    if (o.output && [...this.real, this.stateReal].some((d) => inside(d, real)))
      throw new PathOutsideRootsError(option, value, "an output may not be a root itself or a folder holding a root or the server's state");
    return abs;
  }

  /** Whether an existing file (about to be served) still lies inside the roots once links are followed. */
  holds(file: string): boolean {
    try {
      const real = fs.realpathSync(file);
      return this.real.some((d) => inside(real, d));
    } catch {
      return false;
    }
  }
}
