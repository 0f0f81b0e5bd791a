// Runs the `shears` CLI in process (main() from lib/cli/main.ts), capturing what it
// writes to stdout and stderr. The capture calls a write's callback, as a real stream
// does, so commands that wait for their output to drain finish.
import { main } from '../../lib/cli/main';

type WriteCallback = (err?: Error | null) => void;

function capture(stream: NodeJS.WriteStream, sink: (s: string) => void): jest.SpyInstance {
  return jest.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, a?: unknown, b?: unknown) => {
    sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const cb = (typeof a === 'function' ? a : b) as WriteCallback | undefined;
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  }) as typeof stream.write);
}

export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = capture(process.stdout, (s) => (out += s));
  const e = capture(process.stderr, (s) => (err += s));
  try {
    const code = await main(['node', 'shears', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
