// shears serve across restarts: a job a stopped server left running is reported
// interrupted by the next one, and an interrupted sweep resumes from its cached cells.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DEMO, followEvents, request, scratchUnder, startServer } from './http';

const sweepJob = {
  kind: 'sweep',
  model: DEMO,
  methods: ['magnitude'],
  levels: [0.3, 0.5, 0.7],
  eval: path.join(DEMO, 'eval.txt'),
  evalSeqLen: 64,
  maxWindows: 2,
  out: 'sweep',
};

test('a job left running by a stopped server is reported interrupted, resumable', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-serve-'));
  const jobs = path.join(root, '.shears-serve', 'jobs');
  fs.mkdirSync(jobs, { recursive: true });
  const record = { id: 'left-running-0001', kind: 'eval', request: { model: DEMO, data: path.join(DEMO, 'eval.txt'), seqLen: 64, maxWindows: 1 }, state: 'running', createdAt: new Date().toISOString(), runs: 1, warnings: [] };
  fs.writeFileSync(path.join(jobs, `${record.id}.json`), JSON.stringify(record));
  // Skipped, not fatal: a truncated file, a record of an unknown kind.
  fs.writeFileSync(path.join(jobs, 'garbage.json'), '{"not": "a job"');
  fs.writeFileSync(path.join(jobs, 'odd-kind.json'), JSON.stringify({ ...record, id: 'odd-kind', kind: 'train' }));
  const s = await startServer({ root });
  try {
    expect((await request(`${s.url}/jobs`, 'GET')).json.jobs.map((j: { id: string }) => j.id)).toEqual([record.id]);
    const job = (await request(`${s.url}/jobs/${record.id}`, 'GET')).json;
    expect(job.state).toBe('interrupted');
    expect(job.error.message).toMatch(/the server stopped while the job was running \(resume it with POST \/jobs\/left-running-0001\/resume\)/);
    expect(JSON.parse(fs.readFileSync(path.join(jobs, `${record.id}.json`), 'utf8')).state).toBe('interrupted');
    // Its event stream ends at once with that state.
    expect((await followEvents(`${s.url}/jobs/${record.id}/events`)).map((e) => e.data.state)).toEqual(['interrupted']);
    const resumed = await request(`${s.url}/jobs/${record.id}/resume`, 'POST');
    expect(resumed.status).toBe(202);
    const events = await followEvents(`${s.url}/jobs/${record.id}/events`);
    expect(events[events.length - 1].data.state).toBe('succeeded');
    expect((await request(`${s.url}/jobs/${record.id}`, 'GET')).json.runs).toBe(2);
  } finally {
    await s.close();
  }
});

test('a sweep interrupted by a server stop resumes on the next server from its cached cells', async () => {
  const first = await startServer();
  const { id } = (await request(`${first.url}/jobs`, 'POST', sweepJob)).json;
  let closing: Promise<void> | undefined;
  await followEvents(`${first.url}/jobs/${id}/events`, (e) => {
    // Cell 2 begins once cell 1 is saved: stop the server there (as SIGTERM would).
    if (!closing && e.event === 'progress' && e.data.stage === 'cell' && e.data.cell === 2) closing = first.close();
  });
  await closing;
  // Cells saved before the stop took effect (at least cell 1; a fast cell 2 may have finished too).
  const saved = fs.readdirSync(path.join(first.root, 'sweep', 'cells')).filter((f) => f.endsWith('.json')).length;
  expect(saved).toBeGreaterThanOrEqual(1);
  expect(saved).toBeLessThan(3);
  const second = await startServer({ root: first.root });
  try {
    const before = (await request(`${second.url}/jobs/${id}`, 'GET')).json;
    expect(before.state).toBe('interrupted');
    expect(before.error.code).toBe('E_INTERRUPTED');
    expect(fs.existsSync(path.join(first.root, 'sweep', 'results.json'))).toBe(false);
    expect((await request(`${second.url}/jobs/${id}/resume`, 'POST')).status).toBe(202);
    const events = await followEvents(`${second.url}/jobs/${id}/events`);
    expect(events[events.length - 1].data).toMatchObject({ state: 'succeeded', summary: { cells: 3, reused: saved, computed: 3 - saved } });
    expect(events.some((e) => e.event === 'progress' && e.data.cell === 1 && e.data.detail === 'cached')).toBe(true);
    const results = (await request(`${second.url}/jobs/${id}/report`, 'GET')).json;
    expect(results.cells.map((c: { level: number }) => c.level)).toEqual([0.3, 0.5, 0.7]);
    expect((await request(`${second.url}/jobs/${id}/files`, 'GET')).json.files).toEqual(expect.arrayContaining(['results.json', 'report.html', 'report.md']));
  } finally {
    await second.close();
  }
  expect(scratchUnder(first.root)).toEqual([]);
});
