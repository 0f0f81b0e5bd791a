// The error of an output that cannot be written: it exists (without --force), it is a
// link, its folder is missing or read-only, the disk is full. The message names the
// output (and its folder), never a temporary name inside the scratch folder.
import { ShearsError } from '../errors';

export class OutputError extends ShearsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_OUTPUT', options);
  }
}

type SystemError = NodeJS.ErrnoException & { syscall?: string; dest?: string };

/** Whether `e` is a failed system call (as opposed to a typed error or a bug). */
export function isSystemError(e: unknown): e is SystemError {
  const err = e as SystemError;
  return typeof err?.code === 'string' && /^E[A-Z0-9]+$/.test(err.code) && typeof err.syscall === 'string';
}

const within = (p: string | undefined, dir: string) => p !== undefined && (p === dir || p.startsWith(`${dir}/`) || p.startsWith(`${dir}\\`));
// Errors of a copy that name its source but are about the destination.
const WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EFBIG']);

/**
 * A failed system call while writing `target` (in `folder`) as an OutputError: "EACCES:
 * permission denied" kept, the temporary path it named dropped. With `scratch`, only
 * calls on paths in it (or on no path: write, fsync) count as writes; a failure to read
 * an input file stays what it is. Other errors are returned unchanged.
 */
export function asOutputError(e: unknown, target: string, folder: string, scratch?: string): unknown {
  if (!isSystemError(e)) return e;
  if (scratch && e.path !== undefined && !within(e.path, scratch) && !(within(e.dest, scratch) && WRITE_CODES.has(e.code!))) return e;
  const what = /^(E[A-Z0-9]+: [^,]*)/.exec(e.message)?.[1] ?? e.code;
  return new OutputError(`cannot write ${target} (in ${folder}): ${what}`, { cause: e });
}
