// runTokenize: `shears tokenize` semantics on a small synthetic llama2.c vocabulary.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { tokBin } from '../support/tokenizer-fixtures';
import { referenceEncode } from '../support/tokenizer-reference';
import { loadTokenizer } from '../../lib/tokenizer/load';
import { runTokenize } from '../../lib/tokenizer/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
const pieces = ['<unk>', '\n<s>\n', '\n</s>\n', ...bytes, ' ', 'a', 'b', ' a', 'ab', ' ab'];
const scores = [...new Array(259).fill(0), -10, -11, -12, -1, -2, -3];
const tokFile = path.join(dir, 'tok.bin');
fs.writeFileSync(tokFile, tokBin(pieces, scores));
const ref = { pieces: pieces.map((p) => Buffer.from(p).toString('latin1')), scores, byteFallback: (b: number) => b + 3, bos: 1, eos: 2 };

async function run(opts: Parameters<typeof runTokenize>[1]): Promise<string> {
  const tok = await loadTokenizer({ kind: 'llama2c', path: tokFile });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await runTokenize(tok, opts, out);
  return Buffer.concat(chunks).toString('utf8');
}

test('--text: ids space-separated on one line, BOS by default for llama2.c', async () => {
  const text = 'ab ab\nba';
  const expected = referenceEncode(ref, text, true, false);
  expect(await run({ text })).toBe(expected.join(' ') + '\n');
  expect(await run({ text, bos: false })).toBe(referenceEncode(ref, text, false, false).join(' ') + '\n');
});

test('--json prints a JSON array; --data encodes the whole file as one string, like --text', async () => {
  const text = 'ab\n\nab a b 😀\n';
  const data = path.join(dir, 'data.txt');
  fs.writeFileSync(data, text);
  const fromData = await run({ dataFile: data, json: true });
  expect(JSON.parse(fromData)).toEqual(referenceEncode(ref, text, true, false));
  expect(fromData).toBe(await run({ text, json: true }));
});

test('argument errors', async () => {
  await expect(run({})).rejects.toThrow(/exactly one of --text or --data/);
  await expect(run({ text: 'a', dataFile: 'x' })).rejects.toThrow(/exactly one of --text or --data/);
  await expect(run({ dataFile: path.join(dir, 'missing.txt') })).rejects.toThrow(/cannot read --data .*missing\.txt/);
  const latin1 = path.join(dir, 'latin1.txt');
  fs.writeFileSync(latin1, Buffer.from([0x61, 0xe9, 0x62]));
  await expect(run({ dataFile: latin1 })).rejects.toThrow(/latin1\.txt as UTF-8 text/);
});
