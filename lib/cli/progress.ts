// Progress for long CLI runs: a bar on a terminal, plain lines otherwise (logs, CI).
import { SingleBar } from 'cli-progress';

export interface ProgressLine {
  fraction: number;
  label: string;
  elapsedSeconds: number;
}

export interface ProgressSink {
  update(p: ProgressLine): void;
  stop(): void;
}

export function progressSink(stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressSink {
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: '{bar} {percentage}% | {label} | {elapsed}s',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
    });
    bar.start(1000, 0, { label: '', elapsed: '0' });
    return {
      update: (p) => bar.update(Math.round(p.fraction * 1000), { label: p.label, elapsed: p.elapsedSeconds.toFixed(1) }),
      stop: () => bar.stop(),
    };
  }
  let last = '';
  return {
    update(p) {
      if (p.label === last) return; // one line per change of phase or block
      last = p.label;
      stream.write(`[${p.elapsedSeconds.toFixed(1)}s] ${p.label}\n`);
    },
    stop() {},
  };
}

// Stopping (SIGINT, SIGTERM, SIGHUP, EPIPE) lives in ./signals; the commands take their
// AbortSignal from here, next to their progress display.
export { interruptSignal } from './signals';
