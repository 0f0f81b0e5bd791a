// `shears serve` as a real process: it prints its URL, logs JSON lines (one per request
// and per job state), and SIGTERM closes it with the running job interrupted: no
// output, no scratch, the record saying so. Needs dist/ current (rebuilt when stale).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CLI, ensureCliBuilt, ROOT } from '../prune/helpers';
import { DEMO, followEvents, request, scratchUnder } from './http';

// A stale dist/ is rebuilt first (tsc: far longer than jest's 5 s default).
beforeAll(() => ensureCliBuilt(), 180_000);

test('SIGTERM closes the server and interrupts the running job', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-serve-cli-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--roots', `${root},${DEMO}`], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

  const calib = path.join(DEMO, 'calib.txt');
  const { id } = (await request(`${url}/jobs`, 'POST', { kind: 'prune', model: DEMO, method: 'sparsegpt', sparsity: 0.5, calib, calibSamples: 32, seqLen: 128, out: 'model' })).json;
  let stopped = false;
  const events = await followEvents(`${url}/jobs/${id}/events`, (e) => {
    if (!stopped && e.event === 'progress' && e.data.stage === 'prune') {
      stopped = true;
      child.kill('SIGTERM');
    }
  });
  expect(await exit).toBe(143);
  expect(events[events.length - 1].data).toMatchObject({ state: 'interrupted', error: { code: 'E_INTERRUPTED' } });
  expect(err).toMatch(/SIGTERM: closing the server/);

  const record = JSON.parse(fs.readFileSync(path.join(root, '.shears-serve', 'jobs', `${id}.json`), 'utf8'));
  expect(record.state).toBe('interrupted');
  expect(fs.existsSync(path.join(root, 'model'))).toBe(false);
  expect(scratchUnder(root)).toEqual([]);

  const logs = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(logs.filter((l) => l.msg === 'job state').map((l) => l.state)).toEqual(['queued', 'running', 'interrupted']);
  expect(logs.find((l) => l.msg === 'request' && l.method === 'POST')).toMatchObject({ url: '/jobs', status: 202 });
});
