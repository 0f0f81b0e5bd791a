// The environment: each query followed by the dense model's continuation, greedy (the
// same tokens as generate()) or sampled (deterministic for a seed, per query text),
// cut at the context length; a query longer than the context is an error naming the file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadModel } from '../../lib/formats/load';
import { ForwardModel, generate } from '../../lib/forward';
import { LoadedModel } from '../../lib/model/types';
import { buildEnvironment, readQueries } from '../../lib/queries';
import { writeTinyDense } from './tiny-text-model';

let dir: string;
let model: LoadedModel;
let fm: ForwardModel;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-env-'));
  model = await loadModel(writeTinyDense(path.join(dir, 'tiny'), 48));
  fm = new ForwardModel(model);
});
afterAll(() => {
  model.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const QUERIES = ['Where is the house?', 'The old man said that he would come back tomorrow.', 'Why?'];

function queryFile(name: string, lines: string[]): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

test('greedy continuations are generate() after each query; answerStart is the query length', async () => {
  const q = await readQueries(model, queryFile('q.txt', QUERIES));
  expect(q.texts).toEqual(QUERIES);
  const env = await buildEnvironment(fm, q, { generateTokens: 10, eos: null });
  expect(env).toHaveLength(3);
  for (let i = 0; i < 3; i++) {
    const { ids, answerStart } = env[i];
    expect(answerStart).toBe(q.ids[i].length);
    expect(Array.from(ids.subarray(0, answerStart))).toEqual(Array.from(q.ids[i]));
    expect(Array.from(ids.subarray(answerStart))).toEqual(await generate(fm, q.ids[i], 10, { eos: null }));
  }
  // 0 tokens: the queries alone.
  const bare = await buildEnvironment(fm, q, { generateTokens: 0 });
  expect(bare.map((s) => Array.from(s.ids))).toEqual(q.ids.map((x) => Array.from(x)));
});

test('continuations stop at the context length', async () => {
  const q = await readQueries(model, queryFile('q.txt', QUERIES));
  const env = await buildEnvironment(fm, q, { generateTokens: 1000, eos: null });
  for (const s of env) expect(s.ids.length).toBe(48);
});

test('sampled continuations repeat for a seed, depend on the query text only, and change with the seed', async () => {
  const q = await readQueries(model, queryFile('q.txt', QUERIES));
  const o = { generateTokens: 12, eos: null, temperature: 1.2, topK: 50, seed: 4 };
  const a = await buildEnvironment(fm, q, o);
  expect(await buildEnvironment(fm, q, o)).toEqual(a);
  // Reordered and with one query dropped: each remaining query gets the same continuation.
  const r = await readQueries(model, queryFile('r.txt', [QUERIES[2], QUERIES[0]]));
  const b = await buildEnvironment(fm, r, o);
  expect(b).toEqual([a[2], a[0]]);
  const c = await buildEnvironment(fm, q, { ...o, seed: 5 });
  expect(c.map((s) => Array.from(s.ids))).not.toEqual(a.map((s) => Array.from(s.ids)));
  const greedy = await buildEnvironment(fm, q, { generateTokens: 12, eos: null });
  expect(a.map((s) => Array.from(s.ids))).not.toEqual(greedy.map((s) => Array.from(s.ids)));
});

test('a query longer than the context, a bad token count, a missing file and an abort are typed errors', async () => {
  const long = queryFile('long.txt', ['short one', Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ')]);
  await expect(readQueries(model, long)).rejects.toMatchObject({
    code: 'E_CALIBRATION',
    message: expect.stringMatching(new RegExp(`^${long.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: query 2 .* has \\d+ tokens, more than the model's context length 48`)),
  });
  // As calibration (the query environment), a long query keeps its first tokens and is counted.
  const cut = await readQueries(model, long, undefined, { cutTo: 16 });
  expect(cut.cut).toBe(1);
  expect(cut.ids[1]).toHaveLength(16);
  const longer = await readQueries(model, long, undefined, { cutTo: 40 });
  expect(Array.from(cut.ids[1])).toEqual(Array.from(longer.ids[1].slice(0, 16)));
  expect(Array.from(cut.ids[0])).toEqual(Array.from(longer.ids[0])); // a short query is left whole
  const missing = path.join(dir, 'missing.txt');
  await expect(readQueries(model, missing)).rejects.toMatchObject({ code: 'E_CALIBRATION', message: expect.stringContaining(missing) });
  const q = await readQueries(model, queryFile('q.txt', QUERIES));
  await expect(buildEnvironment(fm, q, { generateTokens: -1 })).rejects.toThrow(/--generate-tokens/);
  const ac = new AbortController();
  ac.abort(new Error('stopped'));
  await expect(buildEnvironment(fm, q, { generateTokens: 4, signal: ac.signal })).rejects.toThrow('stopped');
});

test('chat rows are rendered with the model template before tokenizing', async () => {
  const f = path.join(dir, 'chat.jsonl');
  fs.writeFileSync(f, `${JSON.stringify({ messages: [{ role: 'user', content: 'Where is the house?' }] })}\n${JSON.stringify({ text: 'Why?' })}\n`);
  const q = await readQueries(model, f);
  expect(q.texts[1]).toBe('Why?');
  expect(q.texts[0]).toContain('Where is the house?');
  expect(q.ids[0].length).toBeGreaterThan(1);
});
