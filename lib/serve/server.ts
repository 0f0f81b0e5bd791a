// `createServer()`: the HTTP JSON API of `shears serve` on fastify, for the CLI and for
// Node services that embed it. Requests are validated against JSON schemas made from
// the CLI's options (./schemas.ts), published as an OpenAPI document at /docs/json;
// jobs run in the in-process queue (./job-queue.ts); logs are pino JSON lines, one per
// request and one per change of a job's state.
import * as fs from 'node:fs';
import * as path from 'node:path';

import swagger from '@fastify/swagger';
import Fastify, { FastifyBaseLogger, FastifyInstance, LogController } from 'fastify';
import pino, { Logger } from 'pino';

import { ArgumentRangeError } from '../errors';
import { shearsVersion } from '../prune/report';
import { bearerMatches, checkHost, checkToken } from './auth';
import { describeSchemaError, sendError } from './http-errors';
import { JobQueue } from './job-queue';
import { JobStore } from './job-store';
import { Roots } from './roots';
import { registerRoutes } from './routes';

export interface ServerOptions {
  /** Folders jobs may read and write (default: the current directory); relative paths resolve against the first. */
  roots?: string[];
  /** Job records (default: <first root>/.shears-serve). */
  state?: string;
  /** Bearer token every route but /health and /docs/json requires; without one the server listens on loopback only. */
  token?: string;
  /** Jobs run at once (default 1: one job per native worker pool). */
  concurrency?: number;
  /** Jobs waiting beyond which a submission gets 429 (default 100). */
  maxQueued?: number;
  /** A pino logger (default: JSON lines on stdout at `logLevel`). */
  logger?: Logger;
  logLevel?: string;
}

export interface ShearsServer {
  app: FastifyInstance;
  queue: JobQueue;
  /** Listens (default 127.0.0.1:8080; port 0: a free port) and resolves with the URL. */
  listen(o?: { port?: number; host?: string }): Promise<string>;
  /** Stops taking requests and jobs, interrupts the running ones (they clean up), and closes. */
  close(): Promise<void>;
}

function positiveInt(flag: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new ArgumentRangeError(`${flag} must be a positive integer, got ${v}`);
  return v;
}

export async function createServer(o: ServerOptions = {}): Promise<ShearsServer> {
  checkToken(o.token);
  const concurrency = positiveInt('--concurrency', o.concurrency, 1);
  const maxQueued = positiveInt('--max-queued', o.maxQueued, 100);
  const rootDirs = (o.roots ?? [process.cwd()]).map((r) => path.resolve(r));
  const stateDir = path.resolve(o.state ?? path.join(rootDirs[0] ?? process.cwd(), '.shears-serve'));
  const roots = new Roots(rootDirs, stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  const log = o.logger ?? pino({ level: o.logLevel ?? 'info' });
  const store = new JobStore(stateDir);
  const queue = new JobQueue({ store, roots, log: log.child({ component: 'jobs' }), concurrency, maxQueued });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // No silent coercion or removal: an unknown option or a number given as a string is an error.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, discriminator: true, allErrors: false, verbose: true } },
    schemaErrorFormatter: describeSchemaError,
  });
  app.setErrorHandler(sendError);
  // One line per request (fastify's default is two).
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  if (o.token !== undefined) {
    const token = o.token;
    app.addHook('onRequest', async (request, reply) => {
      if ((request.routeOptions.config as { public?: boolean }).public) return;
      if (!bearerMatches(request.headers.authorization, token))
        return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'E_UNAUTHORIZED', message: 'give Authorization: Bearer <token>' });
    });
  }
  await app.register(swagger, {
    openapi: {
      info: { title: 'shears serve', version: shearsVersion(), description: 'Prune, evaluate and sweep LLMs on the server\'s files (docs/serve.md)' },
      ...(o.token !== undefined ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] } : {}),
    },
  });
  app.get('/docs/json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  registerRoutes(app, queue, roots);
  await app.ready();

  return {
    app,
    queue,
    async listen({ port = 8080, host = '127.0.0.1' } = {}) {
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentRangeError(`--port must be an integer in [0, 65535], got ${port}`);
      checkHost(host, o.token);
      return app.listen({ port, host });
    },
    async close() {
      await queue.close();
      await app.close();
    },
  };
}
