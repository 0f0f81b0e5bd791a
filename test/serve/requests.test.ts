// shears serve: requests refused with a clear message (400 and the library's words),
// token authentication, the loopback rule, and the OpenAPI document.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createServer } from '../../lib';
import { runCli } from '../support/cli';
import { DEMO, request, Running, startServer } from './http';

const calib = path.join(DEMO, 'calib.txt');
const prune = (o: Record<string, unknown>) => ({ kind: 'prune', model: DEMO, method: 'wanda', sparsity: 0.5, calib, out: 'pruned', ...o });

describe('bad requests get 400 with a message naming the problem', () => {
  let s: Running;
  let outside: string;
  beforeAll(async () => {
    s = await startServer();
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-outside-'));
    fs.writeFileSync(path.join(outside, 'calib.txt'), 'a secret outside the roots\n');
    fs.symlinkSync(outside, path.join(s.root, 'link-out'));
  });
  afterAll(async () => {
    await s.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const post = (body: unknown) => request(`${s.url}/jobs`, 'POST', body);
  const cases: [string, () => Record<string, unknown>, RegExp][] = [
    ['an unknown method', () => prune({ method: 'no-such-method' }), /no-such-method/],
    ['a sparsity out of range', () => prune({ sparsity: 1.5 }), /sparsity.*1\.5|1\.5.*sparsity/i],
    ['a sparsity given as a string', () => prune({ sparsity: '0.5' }), /sparsity must be number/],
    ['an unknown kind', () => ({ kind: 'train', model: DEMO }), /kind must be one of prune, eval, sweep, paper, got "train"/],
    ['an unknown option', () => prune({ sparsityy: 0.5 }), /unknown option 'sparsityy'/],
    ['a terminal-only option', () => prune({ json: true }), /option 'json' is not taken by a job: it is for the terminal/],
    ['a Redis queue of the client\'s choosing', () => ({ kind: 'sweep', model: DEMO, methods: 'magnitude', eval: calib, out: 'sw', queue: 'redis://10.0.0.1:6379' }), /option 'queue' is not taken by a job/],
    ['a paper on a Redis queue of the client\'s choosing', () => ({ kind: 'paper', model: DEMO, calib, eval: calib, out: 'pp', queue: 'redis://10.0.0.1:6379' }), /option 'queue' is not taken by a job/],
    ['a missing required option', () => ({ kind: 'prune', model: DEMO, method: 'wanda', sparsity: 0.5, calib }), /missing option 'out'/],
    ['a bad choice', () => prune({ granularity: 'column' }), /granularity must be one of row, matrix, global/],
    ['an input outside the roots', () => prune({ calib: path.join(outside, 'calib.txt') }), /calib \(--calib\) .*outside the server's roots/],
    ['a .. escape', () => prune({ out: '../../escaped-model' }), /out \(--out\) \.\.\/\.\.\/escaped-model: outside the server's roots/],
    ['a symbolic link out of the roots (input)', () => prune({ calib: 'link-out/calib.txt' }), /calib \(--calib\) link-out\/calib.txt: leads outside the server's roots through a symbolic link/],
    ['a symbolic link out of the roots (output)', () => prune({ out: 'link-out/model' }), /out \(--out\) link-out\/model: leads outside/],
    ['the server state folder', () => prune({ out: '.shears-serve/jobs/x' }), /inside the server's state folder/],
    ['an output that is a root', () => prune({ out: '.', force: true }), /out \(--out\) \.: an output may not be a root itself/],
    ['a missing input', () => prune({ calib: 'nothing-here.txt' }), /calib \(--calib\) nothing-here.txt does not exist/],
    ['a bad value for the CLI parser', () => ({ kind: 'sweep', model: DEMO, methods: 'magnitude', levels: [0.5, 2], eval: calib, out: 'sw' }), /level 2/],
    ['a sweep without evaluation data', () => ({ kind: 'sweep', model: DEMO, methods: ['magnitude'], out: 'sw' }), /--eval/],
  ];
  test.each(cases)('%s', async (_what, body, message) => {
    const r = await post(body());
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(message);
    expect(typeof r.json.error).toBe('string');
  });

  test('nothing was queued, written or left behind', async () => {
    expect((await request(`${s.url}/jobs`, 'GET')).json.jobs).toEqual([]);
    expect(fs.readdirSync(s.root).sort()).toEqual(['.shears-serve', 'link-out']);
    expect(fs.readdirSync(outside)).toEqual(['calib.txt']);
  });

  test('unknown jobs and files are 404, malformed JSON 400', async () => {
    expect((await request(`${s.url}/jobs/nope`, 'GET')).status).toBe(404);
    expect((await request(`${s.url}/jobs/nope/cancel`, 'POST')).status).toBe(404);
    const bad = await fetch(`${s.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":' });
    expect(bad.status).toBe(400);
  });

  test('the OpenAPI document has the schemas the requests are validated with', async () => {
    const doc = (await request(`${s.url}/docs/json`, 'GET')).json;
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/health', '/jobs', '/jobs/{id}', '/jobs/{id}/events', '/jobs/{id}/cancel', '/jobs/{id}/resume', '/jobs/{id}/report', '/jobs/{id}/files'])
      expect(Object.keys(doc.paths)).toContain(p);
    const body = doc.paths['/jobs'].post.requestBody.content['application/json'].schema;
    const pruneSchema = body.oneOf.find((k: any) => k.title === 'prune job');
    expect(pruneSchema.required).toEqual(expect.arrayContaining(['kind', 'model', 'method', 'out']));
    expect(pruneSchema.properties.sparsity.type).toBe('number');
    expect(pruneSchema.properties.calibSamples.type).toBe('integer');
    expect(pruneSchema.properties.uniform.type).toBe('boolean');
    expect(pruneSchema.properties.granularity.enum).toEqual(['row', 'matrix', 'global']);
    expect(pruneSchema.properties.json).toBeUndefined();
  });
});

describe('authentication and the loopback rule', () => {
  const token = 'a-token-of-enough-length-0123456789';
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ token });
  });
  afterAll(() => s.close());

  test('every route but /health and /docs/json needs the bearer token', async () => {
    expect((await request(`${s.url}/health`, 'GET')).status).toBe(200);
    expect((await request(`${s.url}/docs/json`, 'GET')).status).toBe(200);
    const none = await request(`${s.url}/jobs`, 'GET');
    expect(none.status).toBe(401);
    expect(none.json.error).toBe('E_UNAUTHORIZED');
    expect((await request(`${s.url}/jobs`, 'GET', undefined, { authorization: 'Bearer wrong-token-of-enough-length' })).status).toBe(401);
    expect((await request(`${s.url}/jobs`, 'POST', prune({}), {})).status).toBe(401);
    const ok = await request(`${s.url}/jobs`, 'GET', undefined, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.json.jobs).toEqual([]);
  });

  test('without a token, a host other than loopback is refused', async () => {
    const server = await createServer({ roots: [s.root], logLevel: 'silent' });
    try {
      await expect(server.listen({ port: 0, host: '0.0.0.0' })).rejects.toThrow(/--host 0\.0\.0\.0: without --token \(or the SHEARS_SERVE_TOKEN environment variable\)/);
    } finally {
      await server.close();
    }
    const cli = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--roots', s.root, '--log-level', 'silent']);
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/--host 0\.0\.0\.0: without --token/);
  });

  test('a short token is refused', async () => {
    await expect(createServer({ roots: [s.root], token: 'short' })).rejects.toThrow(/at least 16 characters/);
  });
});
