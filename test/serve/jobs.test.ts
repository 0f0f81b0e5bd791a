// shears serve end to end with real HTTP: a prune submitted, followed through its
// server-sent events to the end, its report and files fetched; another cancelled
// mid-run, leaving neither its output nor scratch behind; an eval job's report.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { DEMO, followEvents, request, Running, scratchUnder, SseEvent, startServer } from './http';

const calib = path.join(DEMO, 'calib.txt');

let s: Running;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.close();
  expect(scratchUnder(s.root)).toEqual([]);
});

test('a prune: progress events to the end, then its report and files', async () => {
  const submitted = await request(`${s.url}/jobs`, 'POST', { kind: 'prune', model: DEMO, method: 'wanda', sparsity: 0.5, calib, calibSamples: 4, seqLen: 64, out: 'pruned' });
  expect(submitted.status).toBe(202);
  const { id } = submitted.json;
  expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);

  const events = await followEvents(`${s.url}/jobs/${id}/events`);
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => events[0].id + i)); // in order, none lost
  const states = events.filter((e) => e.event === 'state').map((e) => e.data.state);
  expect(states[states.length - 1]).toBe('succeeded');
  const labels = events.filter((e) => e.event === 'progress').map((e) => e.data.label);
  expect(labels).toEqual(expect.arrayContaining(['load', 'calibration', 'write', 'done']));
  expect(labels.some((l) => /^block 1\/\d+ /.test(l))).toBe(true);

  // A client that reconnects with Last-Event-ID gets only the events after it.
  const resumed = await followEvents(`${s.url}/jobs/${id}/events`, undefined, { 'last-event-id': String(events[events.length - 3].id) });
  expect(resumed).toEqual(events.slice(-2));

  const job = (await request(`${s.url}/jobs/${id}`, 'GET')).json;
  expect(job).toMatchObject({ id, kind: 'prune', state: 'succeeded', runs: 1, progress: { label: 'done' } });
  expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.startedAt));
  expect(job.files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'prune-report.json']));

  const report = await request(`${s.url}/jobs/${id}/report`, 'GET');
  expect(report.status).toBe(200);
  expect(report.json).toEqual(JSON.parse(fs.readFileSync(path.join(s.root, 'pruned', 'prune-report.json'), 'utf8')));
  expect(report.json.method).toBe('wanda');
  expect(report.json.sparsity).toBe(0.5);

  const listed = (await request(`${s.url}/jobs/${id}/files`, 'GET')).json.files;
  expect(listed).toEqual(job.files);
  const config = await fetch(`${s.url}/jobs/${id}/files/config.json`);
  expect(config.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Buffer.from(await config.arrayBuffer())).toEqual(fs.readFileSync(path.join(s.root, 'pruned', 'config.json')));
  // Only the files the job wrote, by their listed names.
  expect((await request(`${s.url}/jobs/${id}/files/..%2F..%2Fetc%2Fpasswd`, 'GET')).status).toBe(404);
  expect((await request(`${s.url}/jobs/${id}/files/.shears-serve/jobs/${id}.json`, 'GET')).status).toBe(404);

  // The same output again is refused before any work: it exists (no force).
  const again = await request(`${s.url}/jobs`, 'POST', { kind: 'prune', model: DEMO, method: 'wanda', sparsity: 0.5, calib, out: 'pruned' });
  expect(again.status).toBe(400);
  expect(again.json.message).toMatch(/pruned.*exists.*--force/);
});

test('a job cancelled mid-run ends cancelled, with nothing left behind', async () => {
  const submitted = await request(`${s.url}/jobs`, 'POST', { kind: 'prune', model: DEMO, method: 'sparsegpt', sparsity: 0.5, calib, calibSamples: 32, seqLen: 128, out: 'cancelled-model' });
  expect(submitted.status).toBe(202);
  const { id } = submitted.json;
  let cancel: Promise<{ status: number }> | undefined;
  const events = await followEvents(`${s.url}/jobs/${id}/events`, (e: SseEvent) => {
    // Mid-run: once the pruning of the first block has begun.
    if (!cancel && e.event === 'progress' && e.data.stage === 'prune') cancel = request(`${s.url}/jobs/${id}/cancel`, 'POST');
  });
  expect((await cancel!).status).toBe(200);
  expect(events[events.length - 1]).toMatchObject({ event: 'state', data: { state: 'cancelled', error: { code: 'E_CANCELLED' } } });
  expect(events.some((e) => e.event === 'progress' && e.data.stage === 'write')).toBe(false);
  const job = (await request(`${s.url}/jobs/${id}`, 'GET')).json;
  expect(job.state).toBe('cancelled');
  expect(job.files).toEqual([]);
  expect(fs.existsSync(path.join(s.root, 'cancelled-model'))).toBe(false);
  // (The server's own record writes, atomic too, may still be under way in its state folder: checked after close.)
  expect(scratchUnder(s.root).filter((p) => !p.startsWith('.shears-serve'))).toEqual([]);
  expect((await request(`${s.url}/jobs/${id}/report`, 'GET')).status).toBe(409);
  expect((await request(`${s.url}/jobs/${id}/cancel`, 'POST')).status).toBe(409);
});

test('an eval job: its measures as the report', async () => {
  const submitted = await request(`${s.url}/jobs`, 'POST', { kind: 'eval', model: 'pruned', data: path.join(DEMO, 'eval.txt'), seqLen: 64, maxWindows: 2 });
  expect(submitted.status).toBe(202);
  const events = await followEvents(`${s.url}/jobs/${submitted.json.id}/events`);
  expect(events[events.length - 1].data.state).toBe('succeeded');
  const report = (await request(`${s.url}/jobs/${submitted.json.id}/report`, 'GET')).json;
  expect(report).toMatchObject({ windows: 2, seq_len: 64, tokens: 128 });
  expect(Number.isFinite(report.perplexity)).toBe(true);
  expect(report.perplexity).toBeGreaterThan(1);
});

test('a paper job runs under its library function and cancels like the others', async () => {
  const body = { kind: 'paper', model: DEMO, calib, eval: path.join(DEMO, 'eval.txt'), methods: ['magnitude'], quick: true, budget: 1, out: 'paper' };
  const submitted = await request(`${s.url}/jobs`, 'POST', body);
  expect(submitted.status).toBe(202);
  let cancel: Promise<{ status: number }> | undefined;
  const events = await followEvents(`${s.url}/jobs/${submitted.json.id}/events`, (e) => {
    if (!cancel && e.event === 'progress') cancel = request(`${s.url}/jobs/${submitted.json.id}/cancel`, 'POST');
  });
  expect((await cancel!).status).toBe(200);
  expect(events[events.length - 1].data.state).toBe('cancelled');
  expect(fs.existsSync(path.join(s.root, 'paper', 'paper.json'))).toBe(false);
  expect(scratchUnder(s.root).filter((p) => !p.startsWith('.shears-serve'))).toEqual([]);
});
