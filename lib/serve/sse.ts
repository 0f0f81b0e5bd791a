// GET /jobs/:id/events as server-sent events: the replay of the job's events so far
// (after Last-Event-ID, for a client that reconnects), then the live ones; the stream ends after the event of a final state. A comment line
// every 15 s keeps proxies from closing a quiet stream (a long cell sends nothing).
import type { FastifyReply } from 'fastify';

import type { JobEvent, JobEvents } from './job-events';
import { FINAL_STATES, JobState } from './job-store';

const HEARTBEAT_MS = 15_000;

const isFinal = (e: JobEvent) => e.type === 'state' && FINAL_STATES.includes(e.data.state as JobState);

/** `after`: the Last-Event-ID of a reconnecting client; events up to it are not sent again. */
export function streamEvents(reply: FastifyReply, events: JobEvents, after = 0): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let ended = false;
  let unsubscribe: (() => void) | undefined;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe?.();
    res.end();
  };
  // The response's close, not the request's (which fires once the request is read).
  res.on('close', end);
  unsubscribe = events.subscribe((e) => {
    if (ended) return;
    if (e.seq > after) res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
    if (isFinal(e)) end();
  });
  // The replay may have ended the stream before subscribe() returned.
  if (ended) unsubscribe();
}
