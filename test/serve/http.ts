// Helpers of the serve tests: a server on a free port over a temporary root, JSON
// requests with Node's fetch, and a reader of a job's server-sent events.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import pino from 'pino';

import { packageRoot } from '../../lib/native/binding';
import { createServer, ServerOptions, ShearsServer } from '../../lib';

export const DEMO = path.join(packageRoot(), 'assets', 'demo-model');

export interface Running {
  server: ShearsServer;
  url: string;
  root: string;
  close(): Promise<void>;
}

/** A temporary folder (the first root) and a server over it and the demo model, silent. */
export async function startServer(o: ServerOptions & { root?: string } = {}): Promise<Running> {
  const root = o.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shears-serve-'));
  const server = await createServer({ roots: [root, DEMO], logger: pino({ level: 'silent' }), ...o });
  const url = await server.listen({ port: 0 });
  return { server, url, root, close: () => server.close() };
}

export async function request(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, any>; text: string }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: the test reads text */
  }
  return { status: res.status, json, text };
}

export interface SseEvent {
  id: number;
  event: string;
  data: Record<string, any>;
}

/**
 * Reads a job's event stream to its end; `onEvent` sees each event as it arrives (to
 * cancel a job mid-run). Resolves with every event.
 */
export async function followEvents(url: string, onEvent?: (e: SseEvent) => void | Promise<void>, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const res = await fetch(url, { headers });
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`events: HTTP ${res.status}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      if (fields.event === undefined) continue; // a heartbeat
      const e = { id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data) };
      events.push(e);
      await onEvent?.(e);
    }
  }
  return events;
}

/** Scratch folders (.shears-tmp-*) anywhere under `dir`. */
export function scratchUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => path.basename(p).startsWith('.shears-tmp-'));
}
