// `shears serve`: the HTTP JSON API (lib/serve) for Node services. Prints one line with
// its URL; SIGINT, SIGTERM and SIGHUP close it: running jobs are stopped (they clean up
// as the library guarantees) and marked interrupted, resumable after a restart.
import { Command, Option } from 'commander';

import { createServer } from '../../serve';
import { int, logLevelOption } from '../parse';
import { interruptSignal } from '../progress';

interface ServeArgs {
  port: number;
  host: string;
  roots?: string;
  token?: string;
  concurrency?: number;
  maxQueued?: number;
  state?: string;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('an HTTP JSON API that runs prune, eval, sweep and paper jobs on the server\'s files (docs/serve.md)')
    .option('--port <p>', 'port (0: a free one)', int('--port'), 8080)
    .option('--host <h>', 'address to listen on; anything but loopback needs --token', '127.0.0.1')
    .option('--roots <dirs>', 'comma-separated folders jobs may read and write; paths resolve against the first (default: the current directory)')
    .addOption(new Option('--token <t>', 'bearer token required by every route but /health and /docs/json (at least 16 characters)').env('SHEARS_SERVE_TOKEN'))
    .option('--concurrency <n>', 'jobs run at once (default 1: one job per native worker pool)', int('--concurrency'))
    .option('--max-queued <n>', 'jobs waiting beyond which a submission gets 429 (default 100)', int('--max-queued'))
    .option('--state <dir>', 'job records, kept across restarts (default: <first root>/.shears-serve)')
    .addOption(logLevelOption())
    .action(async (o: ServeArgs) => {
      const server = await createServer({
        roots: o.roots?.split(',').map((r) => r.trim()).filter((r) => r !== ''),
        state: o.state,
        token: o.token,
        concurrency: o.concurrency,
        maxQueued: o.maxQueued,
        logLevel: o.logLevel,
      });
      // Taken before listening: a stop that arrives while it starts still closes it.
      const { signal, dispose } = interruptSignal((cause) => process.stderr.write(`\nshears: ${cause}: closing the server (running jobs are interrupted)\n`));
      try {
        const url = await server.listen({ port: o.port, host: o.host });
        process.stderr.write(`shears serve: listening on ${url}\n`);
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      } finally {
        await server.close();
        dispose();
      }
    });
}
