// The entry point of `shears serve` for the CLI and for `require('shears')`: fastify,
// its plugins and pino are loaded on the first createServer() call, not at module load,
// so the other commands and the library do not pay for them.
import type { ServerOptions, ShearsServer } from './server';

export type { ServerOptions, ShearsServer };
export type { JobKind } from './job-options';
export type { JobProgress, JobRecord, JobState } from './job-store';

/** The HTTP JSON API of `shears serve` (docs/serve.md); `listen()` it, `close()` it. */
export function createServer(options: ServerOptions = {}): Promise<ShearsServer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const server = require('./server') as typeof import('./server');
  return server.createServer(options);
}
