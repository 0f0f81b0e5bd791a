// shears serve's queue: one job at a time by default, a full queue answers 429, two live
// jobs may not write the same output (409), a queued job cancels at once.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { DEMO, followEvents, request, Running, startServer } from './http';

const calib = path.join(DEMO, 'calib.txt');
const slow = (out: string) => ({ kind: 'prune', model: DEMO, method: 'sparsegpt', sparsity: 0.5, calib, calibSamples: 32, seqLen: 128, out });

let s: Running;
beforeAll(async () => {
  s = await startServer({ concurrency: 1, maxQueued: 1 });
});
afterAll(() => s.close());

test('limits: concurrency, --max-queued, one live job per output', async () => {
  const a = (await request(`${s.url}/jobs`, 'POST', slow('a'))).json.id;
  const b = await request(`${s.url}/jobs`, 'POST', slow('b'));
  expect(b.status).toBe(202);
  const full = await request(`${s.url}/jobs`, 'POST', slow('c'));
  expect(full.status).toBe(429);
  expect(full.json).toMatchObject({ error: 'E_QUEUE_FULL', message: expect.stringMatching(/--max-queued 1/) });

  // b waits while a runs (concurrency 1); cancelling it is immediate.
  const health = (await request(`${s.url}/health`, 'GET')).json;
  expect(health).toMatchObject({ status: 'ok', queued: 1, running: 1 });
  const cancelledB = await request(`${s.url}/jobs/${b.json.id}/cancel`, 'POST');
  expect(cancelledB.json).toMatchObject({ state: 'cancelled', error: { code: 'E_CANCELLED' } });

  const same = await request(`${s.url}/jobs`, 'POST', slow('a'));
  expect(same.status).toBe(409);
  expect(same.json.message).toMatch(new RegExp(`job ${a} \\(running\\) already writes .*a$`));

  expect((await request(`${s.url}/jobs/${a}`, 'DELETE')).json).toMatchObject({ error: 'E_JOB_STATE', message: expect.stringMatching(/cancel it first/) });

  const events = await followEvents(`${s.url}/jobs/${a}/events`);
  expect(events[events.length - 1].data.state).toBe('succeeded');
  const list = (await request(`${s.url}/jobs`, 'GET')).json.jobs.map((j: { id: string; state: string }) => [j.id, j.state]);
  expect(list).toEqual([
    [a, 'succeeded'],
    [b.json.id, 'cancelled'],
  ]);

  // A finished job can be forgotten: its record goes, its files stay.
  expect((await request(`${s.url}/jobs/${a}`, 'DELETE')).status).toBe(204);
  expect((await request(`${s.url}/jobs/${a}`, 'GET')).status).toBe(404);
  expect(fs.existsSync(path.join(s.root, '.shears-serve', 'jobs', `${a}.json`))).toBe(false);
  expect(fs.existsSync(path.join(s.root, 'a', 'prune-report.json'))).toBe(true);
});
