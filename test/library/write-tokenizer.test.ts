// writeHF / writeGGUF, called as the README shows them, carry the model's tokenizer, so
// that the written model tokenizes and generates; `tokenizer: false` opts out (issue 9 item 4).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, loadTokenizer, writeGGUF, writeHF } from '../../lib';
import type { LoadedModel } from '../../lib/model/types';
import { llamaConfig, llamaTensors, TINY, writeHFDir } from '../formats/fixtures';
import { runCli } from '../support/cli';

const DEMO = path.join(__dirname, '../../assets/demo-model');
const TEXT = 'the jury said the city was fine';

let root: string;
let demo: LoadedModel;
let demoIds: number[];
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shears-lib-write-'));
  demo = await loadModel(DEMO);
  demoIds = (await loadTokenizer(demo.tokenizer)).encode(TEXT);
});
afterAll(async () => {
  demo?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** The ids the written model's own tokenizer gives for TEXT. */
async function idsOf(model: string): Promise<{ kind: string; ids: number[] }> {
  const m = await loadModel(model);
  try {
    return { kind: m.tokenizer.kind, ids: (await loadTokenizer(m.tokenizer)).encode(TEXT) };
  } finally {
    m.close();
  }
}

test('writeHF with no options copies the tokenizer files; generate runs on the result', async () => {
  const out = path.join(root, 'hf');
  await writeHF(demo, out);
  const files = await fs.readdir(out);
  expect(files).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'config.json']));
  expect(await idsOf(out)).toEqual({ kind: 'hf', ids: demoIds });
  const r = await runCli(['generate', '--model', out, '--prompt', 'the jury', '--max-tokens', '4']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out.trim().length).toBeGreaterThan('the jury'.length);
});

test('writeGGUF with no options converts the HF tokenizer into GGUF entries', async () => {
  const out = path.join(root, 'm.gguf');
  await writeGGUF(demo, out);
  const got = await idsOf(out);
  expect(got.kind).not.toBe('none');
  expect(got.ids).toEqual(demoIds);
  // And back: GGUF -> HF converts the entries into tokenizer files.
  const g = await loadModel(out);
  try {
    await writeHF(g, path.join(root, 'from-gguf'));
  } finally {
    g.close();
  }
  expect((await idsOf(path.join(root, 'from-gguf'))).ids).toEqual(demoIds);
});

test('tokenizer: false writes the model alone', async () => {
  const hf = path.join(root, 'bare-hf');
  await writeHF(demo, hf, { tokenizer: false });
  expect((await fs.readdir(hf)).filter((f) => f.startsWith('tokenizer'))).toEqual([]);
  const gguf = path.join(root, 'bare.gguf');
  await writeGGUF(demo, gguf, { tokenizer: false });
  const m = await loadModel(gguf);
  try {
    expect(m.tokenizer.kind).toBe('none');
  } finally {
    m.close();
  }
});

test('a tokenizer the target cannot hold: the model is written, and a warning says so', async () => {
  const src = path.join(root, 'byte-level');
  // The fixture's tokenizer.json is byte-level BPE (GPT-2 style), which GGUF output does not convert.
  writeHFDir(src, llamaConfig(TINY), llamaTensors(TINY, 'F32'));
  const m = await loadModel(src);
  const warnings: string[] = [];
  try {
    await writeGGUF(m, path.join(root, 'byte-level.gguf'), { onWarning: (w) => warnings.push(w) });
  } finally {
    m.close();
  }
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/written without a tokenizer \(.*byte-level BPE.*not implemented/);
  const written = await loadModel(path.join(root, 'byte-level.gguf'));
  expect(written.tokenizer.kind).toBe('none');
  written.close();
});
