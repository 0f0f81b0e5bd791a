// The audit's hostile inputs (issue 8, items 1-7 and 9), each run through the real CLI
// (`node bin/shears.js`, compiled dist/) as its own process under /usr/bin/time: exit
// code, the first line of stderr, wall seconds and peak RSS. Every case must end within
// 5 s and under 1 GiB: with a non-zero exit and a `shears:` message for a bad input, with
// exit 0 for a valid file that is merely large (item 3).
//
//   npm run build:ts && node -r ./scripts/fuzz/ts-hook.js scripts/hostile-cli-check.ts [--json]
//
// Prints a markdown table on stderr (and one JSON object on stdout with --json); exits 1
// when a case misses its expectation. Inputs are generated in a temporary folder, removed
// afterwards.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { buildGGUF, llamaConfig, llamaKVs, llamaTensors, tinyGGUFTensors, TINY, TinyLlamaSpec, writeGGUFWithBigArray, writeHFDir } from '../test/formats/fixtures';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'shears.js');
const DEMO = path.join(ROOT, 'assets', 'demo-model');
const LIMIT_SECONDS = 5;
const LIMIT_BYTES = 2 ** 30;

interface Case {
  item: string;
  what: string;
  args: string[];
  /** 'error': a non-zero exit with a `shears:` message; 'ok': exit 0. */
  expect: 'error' | 'ok';
  /** A fragment the message must contain (the file or field it names). */
  names?: string;
}

interface Outcome extends Case {
  code: number | null;
  seconds: number;
  peakRssMiB: number;
  message: string;
  pass: boolean;
}

function run(c: Case): Outcome {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, CLI, ...c.args], { encoding: 'utf8', timeout: 60_000 });
  const lines = r.stderr.trimEnd().split('\n');
  const [secs, kib] = (lines.pop() ?? '').split(' ').map(Number);
  const message = lines.find((l) => l.startsWith('shears:')) ?? lines[0] ?? '';
  const code = r.status;
  const ok = c.expect === 'ok' ? code === 0 : code !== 0 && code !== null && message.startsWith('shears:') && (!c.names || message.includes(c.names));
  const pass = ok && secs < LIMIT_SECONDS && kib * 1024 < LIMIT_BYTES;
  return { ...c, code, seconds: secs, peakRssMiB: kib / 1024, message, pass };
}

function copyDemo(dir: string, name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  for (const f of fs.readdirSync(DEMO)) fs.copyFileSync(path.join(DEMO, f), path.join(d, f));
  return d;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

function cases(dir: string): Case[] {
  const out: Case[] = [];
  const at = (name: string) => path.join(dir, name);

  // 1. Layer counts far beyond what the file holds.
  const hf = at('layers-1e9');
  writeHFDir(hf, llamaConfig(TINY, { num_hidden_layers: 1e9 }), llamaTensors(TINY, 'F32'));
  out.push({ item: '1', what: 'config.json num_hidden_layers: 1e9', args: ['info', '--model', hf], expect: 'error', names: 'num_hidden_layers' });
  const gguf = at('blocks-2p30.gguf');
  fs.writeFileSync(gguf, buildGGUF(llamaKVs(TINY).map((kv) => (kv.key === 'llama.block_count' ? { ...kv, value: 2 ** 30 } : kv)), tinyGGUFTensors(TINY)));
  out.push({ item: '1', what: 'GGUF llama.block_count = 2^30', args: ['info', '--model', gguf], expect: 'error', names: 'llama.block_count' });

  // 2. An added token id of 2^31.
  const huge = copyDemo(dir, 'added-2p31');
  editJson(path.join(huge, 'tokenizer.json'), (j) => (j.added_tokens as unknown[]).push({ id: 2 ** 31, content: '<huge>', special: true }));
  out.push({ item: '2', what: 'tokenizer.json added token id 2^31', args: ['tokenize', '--model', huge, '--text', 'hello'], expect: 'error', names: 'tokenizer.json' });

  // 3. Valid GGUFs with one large uint8 metadata array.
  for (const mb of [32, 300]) {
    const f = at(`array-${mb}mb.gguf`);
    writeGGUFWithBigArray(f, llamaKVs(TINY), tinyGGUFTensors(TINY), 'test.big', mb * 2 ** 20);
    out.push({ item: '3', what: `GGUF with a ${mb} MB uint8 metadata array (valid)`, args: ['info', '--model', f], expect: 'ok' });
  }

  // 4. A chat template that loops 10^9 times, in a prune calibrated on chat JSONL.
  // (@huggingface/jinja reads `range(1e9)` as range(1): no float literals.)
  const loop = copyDemo(dir, 'template-range');
  editJson(path.join(loop, 'tokenizer_config.json'), (j) => (j.chat_template = '{% for i in range(1000000000) %}x{% endfor %}'));
  const chat = at('chat.jsonl');
  fs.writeFileSync(chat, `${JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }] })}\n`);
  // A wanda prune calibrated on the chat rows: renders the template with the model's config.
  const chatPrune = (item: string, what: string, model: string): Case => ({
    item,
    what,
    args: ['prune', '--model', model, '--method', 'wanda', '--sparsity', '0.5', '--calib', chat, '--out', at(`out-${item}`)],
    expect: 'error',
    names: 'tokenizer_config.json',
  });
  out.push(chatPrune('4', 'chat_template {% for i in range(1000000000) %}', loop));

  // 5. tokenizer_config.json that is not JSON.
  const badConfig = copyDemo(dir, 'config-syntax');
  fs.writeFileSync(path.join(badConfig, 'tokenizer_config.json'), '{"bos_token": "<s>",');
  out.push(chatPrune('5', 'tokenizer_config.json with a syntax error', badConfig));

  // 6. A post-processor the tokenizer library fails on while encoding.
  const post = copyDemo(dir, 'post-null');
  editJson(path.join(post, 'tokenizer.json'), (j) => (j.post_processor = { type: 'TemplateProcessing', single: null, pair: null, special_tokens: {} }));
  out.push({ item: '6', what: 'post_processor with single: null', args: ['tokenize', '--model', post, '--text', 'hello'], expect: 'error', names: 'tokenizer.json' });

  // 7. NaN weights: perplexity is an error naming the block.
  const spec: TinyLlamaSpec = { ...TINY, layers: 3 };
  const tensors = tinyGGUFTensors(spec);
  const down = tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!;
  new Float32Array(down.data.buffer, down.data.byteOffset, down.data.length / 4)[7] = NaN;
  const nan = at('nan.gguf');
  fs.writeFileSync(nan, buildGGUF(llamaKVs(spec), tensors));
  const ids = at('ids.json');
  fs.writeFileSync(ids, JSON.stringify(Array.from({ length: 64 }, (_, i) => (i * 7 + 3) % spec.vocab)));
  out.push({ item: '7', what: 'GGUF whose weights give NaN, eval', args: ['eval', '--model', nan, '--tokens', ids, '--seq-len', '16'], expect: 'error', names: 'block 1' });

  // 9. --out a dangling symlink, and a symlink to another folder with --force.
  const dangling = at('dangling');
  fs.symlinkSync(at('nowhere'), dangling);
  out.push({
    item: '9',
    what: '--out a dangling symlink',
    args: ['prune', '--model', DEMO, '--method', 'magnitude', '--sparsity', '0.5', '--out', dangling],
    expect: 'error',
    names: dangling,
  });
  const target = at('precious');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep.txt'), 'keep');
  const link = at('link-to-precious');
  fs.symlinkSync(target, link);
  out.push({
    item: '9',
    what: '--out a symlink to another folder, --force',
    args: ['prune', '--model', DEMO, '--method', 'magnitude', '--sparsity', '0.5', '--out', link, '--force'],
    expect: 'error',
    names: link,
  });
  return out;
}

function main(): void {
  const json = process.argv.includes('--json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-hostile-cli-'));
  let results: Outcome[];
  try {
    results = cases(dir).map(run);
    // Item 9's second case: the link's target must be untouched.
    const kept = fs.readFileSync(path.join(dir, 'precious', 'keep.txt'), 'utf8') === 'keep';
    const last = results[results.length - 1];
    last.pass &&= kept;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const rows = results.map(
    (r) => `| ${r.item} | ${r.what} | ${r.code} | ${r.seconds.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.pass ? 'yes' : 'NO'} | ${r.message.replace(/\|/g, '\\|').slice(0, 150)} |`,
  );
  process.stderr.write(['| item | input | exit | seconds | peak RSS MiB | as expected | message |', '|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n');
  if (json) process.stdout.write(JSON.stringify({ limits: { seconds: LIMIT_SECONDS, bytes: LIMIT_BYTES }, results }, null, 2) + '\n');
  process.exitCode = results.every((r) => r.pass) ? 0 : 1;
}

main();
