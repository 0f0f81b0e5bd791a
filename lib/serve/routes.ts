// The routes of `shears serve`: health, jobs (submit, list, inspect, events, cancel,
// resume), and a succeeded job's report and files.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { FastifyInstance, FastifyReply } from 'fastify';

import { shearsVersion } from '../prune/report';
import type { JobKind } from './job-options';
import { JobQueue, JobRefusedError } from './job-queue';
import type { JobRecord } from './job-store';
import { jobFiles, jobView } from './job-view';
import { Roots } from './roots';
import { errorBody, idParams, jobView as jobViewSchema, submitSchema } from './schemas';
import { streamEvents } from './sse';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

type IdRequest = { Params: { id: string } };

const errors = { 400: errorBody, 404: errorBody, 409: errorBody };

/** The job, or a 404 naming the id. */
function jobOr404(queue: JobQueue, id: string): JobRecord {
  const record = queue.get(id);
  if (!record) throw new JobRefusedError(`no job ${id}`, 'E_NO_JOB', 404);
  return record;
}

function succeededOr409(record: JobRecord, what: string): void {
  if (record.state !== 'succeeded')
    throw new JobRefusedError(`job ${record.id} is ${record.state}: its ${what} ${record.state === 'queued' || record.state === 'running' ? 'is served once it has succeeded' : 'does not exist'}`, 'E_JOB_STATE', 409);
}

/** Streams a file the job wrote, if it is still there and (`roots` given) still inside the roots. */
function sendFile(reply: FastifyReply, roots: Roots | undefined, file: string, name: string): FastifyReply {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile() || (roots && !roots.holds(file))) throw new JobRefusedError(`${name} no longer exists on the server`, 'E_GONE', 410);
  return reply
    .type(CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream')
    .header('content-length', st.size)
    .send(fs.createReadStream(file));
}

export function registerRoutes(app: FastifyInstance, queue: JobQueue, roots: Roots): void {
  app.get('/health', { config: { public: true }, schema: { summary: 'liveness and the jobs in flight' } }, async () => {
    const jobs = queue.list();
    return { status: 'ok', version: shearsVersion(), queued: jobs.filter((j) => j.state === 'queued').length, running: jobs.filter((j) => j.state === 'running').length };
  });

  app.post<{ Body: Record<string, unknown> & { kind: JobKind } }>(
    '/jobs',
    { schema: { summary: 'submit a prune, eval, sweep or paper job', body: submitSchema(), response: { 202: jobViewSchema, ...errors, 429: errorBody, 503: errorBody } } },
    async (request, reply) => {
      const record = await queue.submit(request.body.kind, request.body);
      return reply.status(202).header('location', `/jobs/${record.id}`).send(jobView(record));
    },
  );

  app.get('/jobs', { schema: { summary: 'every job, oldest first', response: { 200: { type: 'object', properties: { jobs: { type: 'array', items: jobViewSchema } } } } } }, async () => ({
    jobs: queue.list().map(jobView),
  }));

  app.get<IdRequest>('/jobs/:id', { schema: { summary: 'a job: state, times, last progress, error, files', params: idParams, response: { 200: jobViewSchema, ...errors } } }, async (request) =>
    jobView(jobOr404(queue, request.params.id)),
  );

  app.get<IdRequest>(
    '/jobs/:id/events',
    { schema: { summary: "server-sent events: the job's events so far, then live ones, ending with its final state", params: idParams, produces: ['text/event-stream'] } },
    async (request, reply) => {
      jobOr404(queue, request.params.id);
      const last = Number(request.headers['last-event-id']);
      streamEvents(reply, queue.events(request.params.id)!, Number.isInteger(last) && last > 0 ? last : 0);
    },
  );

  app.post<IdRequest>('/jobs/:id/cancel', { schema: { summary: 'cancel a queued or running job', params: idParams, response: { 200: jobViewSchema, ...errors } } }, async (request) => {
    jobOr404(queue, request.params.id);
    return jobView(queue.cancel(request.params.id));
  });

  app.delete<IdRequest>('/jobs/:id', { schema: { summary: "forget a finished job (its record; the files it wrote stay)", params: idParams, response: { 204: { type: 'null' }, ...errors } } }, async (request, reply) => {
    jobOr404(queue, request.params.id);
    await queue.remove(request.params.id);
    return reply.status(204).send();
  });

  app.post<IdRequest>(
    '/jobs/:id/resume',
    { schema: { summary: 'queue an interrupted, cancelled or failed job again (sweep, paper: from their cached cells)', params: idParams, response: { 202: jobViewSchema, ...errors } } },
    async (request, reply) => {
      jobOr404(queue, request.params.id);
      return reply.status(202).send(jobView(await queue.resume(request.params.id)));
    },
  );

  app.get<IdRequest>('/jobs/:id/report', { schema: { summary: "a succeeded job's report (prune-report.json, eval's measures, results.json, paper.json)", params: idParams } }, async (request, reply) => {
    const record = jobOr404(queue, request.params.id);
    succeededOr409(record, 'report');
    // An eval job's report is kept in the server's state folder, which may lie outside the roots.
    return sendFile(reply, record.kind === 'eval' ? undefined : roots, record.report!, 'the report');
  });

  app.get<IdRequest>('/jobs/:id/files', { schema: { summary: "the names of a succeeded job's files", params: idParams } }, async (request) => {
    const record = jobOr404(queue, request.params.id);
    succeededOr409(record, 'files');
    return { files: [...jobFiles(record).keys()] };
  });

  app.get<{ Params: { id: string; '*': string } }>('/jobs/:id/files/*', { schema: { summary: 'one file a succeeded job wrote' } }, async (request, reply) => {
    const record = jobOr404(queue, request.params.id);
    succeededOr409(record, 'files');
    const name = request.params['*'];
    const file = jobFiles(record).get(name);
    if (!file) throw new JobRefusedError(`job ${record.id} wrote no file ${name} (GET /jobs/${record.id}/files lists them)`, 'E_NO_FILE', 404);
    return sendFile(reply, roots, file, name);
  });
}
