// Stopping the CLI cleanly. SIGINT, SIGTERM and SIGHUP, and a closed stdout or stderr
// pipe (EPIPE), all stop the same way: the running command's AbortSignal is aborted,
// the command unwinds through its finally blocks (its scratch folder is removed) and
// main() exits with 128 + the signal number: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP),
// 141 (SIGPIPE, for EPIPE). A command that takes no AbortSignal (info, eval, convert)
// exits at once, after removing its scratch synchronously. A second signal exits at
// once the same way, for a run that takes too long to unwind.
import { ShearsError } from '../errors';
import { removeAllScratchSync } from '../util/scratch';

const NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGPIPE: 13, SIGTERM: 15 } as const;
export type StopCause = keyof typeof NUMBERS;
const HANDLED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Why a command stopped before finishing; exitCode is 128 + the signal number. */
export class StoppedError extends ShearsError {
  readonly exitCode: number;
  constructor(readonly stopCause: StopCause) {
    super(
      stopCause === 'SIGPIPE'
        ? 'interrupted: the output pipe was closed (EPIPE)'
        : `interrupted by ${stopCause}${stopCause === 'SIGINT' ? ' (Ctrl-C)' : ''}`,
      'E_INTERRUPTED',
    );
    this.exitCode = 128 + NUMBERS[stopCause];
  }
}

// The process's state: the first stop, and the commands that can be cancelled now.
let stopped: StoppedError | undefined;
const running = new Set<{ abort: (reason: StoppedError) => void; onFirst?: (cause: StopCause) => void }>();

function exitNow(code: number): never {
  removeAllScratchSync();
  process.exit(code);
}

/** Handles one stop (a signal, or EPIPE as SIGPIPE). */
function stop(cause: StopCause): void {
  if (stopped) {
    // A second signal: the user does not want to wait. More EPIPEs are echoes of the first.
    if (cause !== 'SIGPIPE') exitNow(128 + NUMBERS[cause]);
    return;
  }
  stopped = new StoppedError(cause);
  // Nothing cancellable is running (info, eval...): exit now; a closed pipe after the
  // work is done (shears info | head) is no failure.
  if (running.size === 0) exitNow(cause === 'SIGPIPE' ? 0 : stopped.exitCode);
  for (const r of running) {
    if (cause !== 'SIGPIPE') r.onFirst?.(cause); // no message into a closed pipe
    r.abort(stopped);
  }
}

/** The stop this process received, if any. */
export function stopReceived(): StoppedError | undefined {
  return stopped;
}

/**
 * Installs the handlers for one CLI invocation (main() calls it); the returned function
 * removes them again (for tests that run the CLI in process).
 */
export function installStopHandlers(): () => void {
  stopped = undefined;
  const onSignal = (sig: NodeJS.Signals) => stop(sig as StopCause);
  const onStreamError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stop('SIGPIPE');
    else if (!stopped) throw e; // once stopping (SIGHUP: the terminal is gone, EIO), output errors are expected
  };
  for (const s of HANDLED) process.on(s, onSignal);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  return () => {
    for (const s of HANDLED) process.off(s, onSignal);
    process.stdout.off('error', onStreamError);
    process.stderr.off('error', onStreamError);
  };
}

/**
 * An AbortSignal aborted (with a StoppedError) by the first stop while the command
 * runs; `onFirst` says that it is stopping (it is told which signal). dispose() when
 * the command is done.
 */
export function interruptSignal(onFirst?: (cause: StopCause) => void): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const entry = { abort: (reason: StoppedError) => ac.abort(reason), onFirst };
  running.add(entry);
  if (stopped) ac.abort(stopped);
  return { signal: ac.signal, dispose: () => running.delete(entry) };
}
