#!/usr/bin/env node
// Reproduces the issue-4 table: prune BabyLlama and stories260K (and, with --models, the
// demo model) with magnitude, Wanda and SparseGPT (or --methods) at 50% unstructured and
// 2:4, calibrated on C4 (the papers' defaults: 128 random windows of min(2048, context)
// tokens, seed 0), then evaluate perplexity on the TinyStories validation text (the demo
// model: its own held-out eval.txt), windows of the model's context length. Prints a
// markdown table. Every model of a row group is evaluated on the same token ids (the
// input model's tokenizer, BOS once), so a tokenizer converted with the output format
// cannot change the numbers. Needs ../shared/data and a built dist/ (npm install does it).
//   node scripts/prune-table.js [--calib-samples K] [--out-dir DIR]
//     [--methods magnitude,wanda,sparsegpt,gradient,...] [--models stories260K,BabyLlama,demo]
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const data = path.resolve(root, '..', 'shared', 'data');
const cli = path.join(root, 'bin', 'shears.js');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const samples = opt('--calib-samples', '128');
const outDir = opt('--out-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'shears-table-')));
fs.mkdirSync(outDir, { recursive: true });
const calib = path.join(data, 'text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl');
const evalText = path.join(data, 'text', 'tinystories', 'tinystories_val.txt');
// The queries a recovering method (ewc) adapts to: text disjoint from what the row is evaluated on.
const storyQueries = path.join(data, 'text', 'tinystories', 'tinystories_sample.txt');
const allModels = {
  'stories260K': { file: path.join(data, 'models', 'stories260K', 'stories260K.bin'), evalText, queries: storyQueries },
  'BabyLlama': { file: path.join(data, 'models', 'babyllama-tok105', 'model5000.bin'), evalText, queries: storyQueries },
  demo: { file: path.join(root, 'assets', 'demo-model'), evalText: path.join(root, 'assets', 'demo-model', 'eval.txt'), queries: path.join(root, 'assets', 'demo-model', 'queries.txt') },
};
const RECOVERING = new Set(['ewc']);
const models = Object.fromEntries(opt('--models', 'stories260K,BabyLlama').split(',').map((m) => [m, allModels[m]]));
const methods = opt('--methods', 'magnitude,wanda,sparsegpt').split(',');
const run = (a) => execFileSync(process.execPath, [cli, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
const evalPpl = (m, ids) => JSON.parse(run(['eval', '--model', m, '--tokens', ids, '--json']));

const rows = [];
for (const [name, { file, evalText: text, queries }] of Object.entries(models)) {
  const ids = path.join(outDir, `${name}-eval-ids.json`);
  fs.writeFileSync(ids, run(['tokenize', '--model', file, '--data', text, '--bos', '--json']));
  const dense = evalPpl(file, ids);
  rows.push({ model: name, method: 'dense', pattern: '-', ppl: dense.perplexity, windows: dense.windows, seqLen: dense.seq_len, seconds: NaN, rss: NaN });
  for (const method of methods)
    for (const pattern of ['unstructured', '2:4']) {
      const out = path.join(outDir, `${name}-${method}-${pattern.replace(':', 'of')}`);
      const a = ['prune', '--model', file, '--method', method, '--out', out, '--force', '--json', '--calib-samples', samples];
      if (pattern === 'unstructured') a.push('--sparsity', '0.5');
      else a.push('--pattern', pattern);
      if (method !== 'magnitude') a.push('--calib', calib);
      if (RECOVERING.has(method)) a.push('--queries', queries);
      const report = JSON.parse(run(a));
      const e = evalPpl(out, ids);
      rows.push({ model: name, method, pattern, ppl: e.perplexity, windows: e.windows, seqLen: e.seq_len, seconds: report.timings.total, rss: report.peak_rss_bytes });
    }
}
const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log('| model | method | pattern | perplexity | prune seconds | peak RSS (MiB) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.model} | ${r.method} | ${r.pattern} | ${fmt(r.ppl, 3)} | ${fmt(r.seconds, 2)} | ${fmt(r.rss / 2 ** 20, 0)} |`);
if (methods.some((m) => RECOVERING.has(m))) console.log('\newc recovers on queries: TinyStories sample text (stories260K, BabyLlama), assets/demo-model/queries.txt (demo); default steps, lr and lambda.');
console.log(`\nperplexity: TinyStories validation text (demo: its eval.txt), ${rows.map((r) => `${r.model} ${r.windows}x${r.seqLen}`).filter((v, i, a) => a.indexOf(v) === i).join(', ')} token windows; calibration: C4, ${samples} random windows of min(2048, context) tokens, seed 0. Outputs in ${outDir}`);
