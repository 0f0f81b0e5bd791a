#!/usr/bin/env node
// The measured table of issue 12: every method against SparseGPT on held-out queries.
//
// How the table is made (docs/query-aware-table.md says the same, with the reasons):
// - Models: demo (assets/demo-model, queries = its queries.txt), stories260K and BabyLlama
//   (../shared/data/models). For the two TinyStories models the queries are written into
//   the out dir: the first sentence (cut after the first . ! or ?, at most 20 words) of each
//   passage of ../shared/data/text/tinystories/tinystories_val.txt (passages are separated
//   by blank lines or <|endoftext|>; the file marks no story boundary, so a passage is a
//   paragraph), fragments under 3 words and repeats skipped, the first --stories (240).
// - Split: `shears queries split --held-out 0.25 --seed 0` into a calibration part and a
//   held-out part. No prune ever sees the held-out part.
// - The same calibration budget for every method: --calib <calibration part> --seq-len 64
//   --calib-samples 64 --seed 0 (magnitude ignores it).
// - Levels: --sparsity 0.5, --sparsity 0.7, --pattern 2:4.
// - Methods: magnitude, wanda, sparsegpt, gradient, fisher, gradient-sensitive, ewc (its
//   --queries: the calibration part), query-aware
//   (query-aware gets --generate-tokens 32 and --qa-args). With query-aware, an ablation:
//   query-aware again with one step removed or changed (no generated answers, magnitude
//   prior, no learning, sensitivity allocation, no repair).
// - Measure: `shears eval --model OUT --reference DENSE --queries <held-out part>
//   --generate-tokens 32 --json` (greedy continuations by the dense model). loss =
//   log ppl_pruned - log ppl_dense over all positions (the headline), over query positions
//   (from the all and answer sums), over answer positions; KL(dense || pruned); top-1
//   agreement. Cost from the prune's report: timings.total and peak_rss_bytes.
// - Per model x level: loss and KL divided by SparseGPT's; query-aware's target: loss
//   <= 0.7 x SparseGPT's on demo and stories260K, < SparseGPT's on BabyLlama.
// A failing prune or eval becomes a row with its error; the exit code is non-zero only
// when a dense measurement fails (or on a stop: 128 + the signal). Needs a built dist/
// (`npm run -s build:ts`) and, for the TinyStories models, ../shared/data.
//   node scripts/query-aware-table.js [--models demo,stories260K,BabyLlama]
//     [--methods LIST] [--levels 0.5,0.7,2:4] [--seq-len 64] [--calib-samples 64]
//     [--stories 240] [--qa-args "..."] [--no-ablation] [--out-dir DIR] [--keep]
//     [--timeout SECONDS] [--json]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const data = path.resolve(root, '..', 'shared', 'data');
const cli = path.join(root, 'bin', 'shears.js');
const storiesText = path.join(data, 'text', 'tinystories', 'tinystories_val.txt');
const MODELS = {
  demo: { file: path.join(root, 'assets', 'demo-model'), queries: path.join(root, 'assets', 'demo-model', 'queries.txt'), target: 0.7 },
  stories260K: { file: path.join(data, 'models', 'stories260K', 'stories260K.bin'), queries: 'tinystories', target: 0.7 },
  BabyLlama: { file: path.join(data, 'models', 'babyllama-tok105', 'model5000.bin'), queries: 'tinystories', target: 1 },
};
const ALL_METHODS = ['magnitude', 'wanda', 'sparsegpt', 'gradient', 'fisher', 'gradient-sensitive', 'ewc', 'query-aware'];
const HELD_OUT = '0.25';
const SEED = '0';
const EVAL_GENERATE_TOKENS = '32';
// Each method's own prune arguments (beyond the shared calibration budget): ewc recovers on
// the same calibration queries (the users' queries it is given), with its defaults.
const METHOD_ARGS = { 'query-aware': () => ['--generate-tokens', '32'], ewc: (m) => ['--queries', m.calib] };
// query-aware with one step of the method removed (or, step 4, swapped for the alternative).
const ABLATION = [
  { label: 'query-aware −step1 (no answers)', args: ['--generate-tokens', '0'] },
  { label: 'query-aware −step2 (magnitude prior)', args: ['--prior', 'magnitude'] },
  { label: 'query-aware −step3 (no learning)', args: ['--steps', '0'] },
  { label: 'query-aware step4 alternative (sensitivity allocation)', args: ['--allocation', 'sensitivity'] },
  { label: 'query-aware −step5 (no repair)', args: ['--repair', 'none'] },
];
const SIGNAL_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

// ---------------------------------------------------------------- options

function usage(message) {
  if (message) console.error(`query-aware-table: ${message}`);
  console.error('usage: node scripts/query-aware-table.js [--models LIST] [--methods LIST] [--levels 0.5,0.7,2:4] [--seq-len L] [--calib-samples K] [--stories N] [--qa-args "..."] [--no-ablation] [--out-dir DIR] [--keep] [--timeout S] [--json]');
  process.exit(message ? 2 : 0);
}

function parseOptions(argv) {
  const valued = new Set(['--models', '--methods', '--levels', '--seq-len', '--calib-samples', '--stories', '--qa-args', '--out-dir', '--timeout']);
  const flags = new Set(['--json', '--keep', '--ablation', '--no-ablation', '--help', '-h']);
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (valued.has(k)) {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      o[k] = argv[++i];
    } else if (flags.has(k)) o[k] = true;
    else usage(`unknown argument ${JSON.stringify(k)}`);
  }
  if (o['--help'] || o['-h']) usage();
  const list = (k, d) => (o[k] ?? d).split(',').map((s) => s.trim()).filter(Boolean);
  const positiveInt = (k, d) => {
    const v = o[k] ?? d;
    if (!/^[1-9]\d*$/.test(v)) usage(`${k} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const models = list('--models', Object.keys(MODELS).join(','));
  for (const m of models) if (!MODELS[m]) usage(`unknown model ${m} (${Object.keys(MODELS).join(', ')})`);
  const methods = list('--methods', ALL_METHODS.join(','));
  const levels = list('--levels', '0.5,0.7,2:4').map(parseLevel);
  if (!models.length || !methods.length || !levels.length) usage('--models, --methods and --levels need at least one entry');
  const timeout = Number(o['--timeout'] ?? '7200');
  if (!(timeout > 0)) usage('--timeout must be a positive number of seconds');
  return {
    models,
    methods,
    levels,
    seqLen: positiveInt('--seq-len', '64'),
    calibSamples: positiveInt('--calib-samples', '64'),
    stories: Number(positiveInt('--stories', '240')),
    qaArgs: (o['--qa-args'] ?? '').split(/\s+/).filter(Boolean),
    ablation: !o['--no-ablation'] && methods.includes('query-aware'),
    json: !!o['--json'],
    keep: !!o['--keep'],
    timeoutMs: timeout * 1000,
    outDir: path.resolve(o['--out-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'shears-qa-table-'))),
  };
}

/** '0.5' -> unstructured sparsity, 'N:M' -> a semi-structured pattern. */
function parseLevel(s) {
  if (/^\d+:\d+$/.test(s)) {
    const [n, m] = s.split(':').map(Number);
    if (!(n > 0 && n < m)) usage(`pattern ${s} must keep 0 < N < M`);
    return { name: s, args: ['--pattern', s] };
  }
  const x = Number(s);
  if (!(/^[0-9.]+$/.test(s) && x > 0 && x < 1)) usage(`level ${JSON.stringify(s)} is neither a sparsity in (0, 1) nor N:M`);
  return { name: s, args: ['--sparsity', s] };
}

// ---------------------------------------------------------------- queries

/** The first sentence of a passage: up to the first . ! or ? (and a closing quote), at most 20 words. */
function firstSentence(passage) {
  const flat = passage.replace(/\s+/g, ' ').trim();
  const cut = flat.match(/^[^.!?]*[.!?]+["']?/);
  return (cut ? cut[0] : flat).split(' ').slice(0, 20).join(' ');
}

/** TinyStories openings as one query per line: distinct, at least 3 words, the first `count`. */
function storyOpenings(text, count) {
  const seen = new Set();
  for (const passage of text.split(/<\|endoftext\|>|\r?\n[ \t]*\r?\n/)) {
    const q = firstSentence(passage);
    if (q.split(' ').length < 3 || seen.has(q)) continue;
    seen.add(q);
    if (seen.size === count) break;
  }
  return [...seen];
}

// ---------------------------------------------------------------- running the CLI

// The child running now (a stop is forwarded to it) and the first stop received.
let child = null;
let stopCause = null;
for (const sig of Object.keys(SIGNAL_CODES))
  process.on(sig, () => {
    stopCause ??= sig;
    child?.kill(sig);
  });

const STDERR_TAIL_BYTES = 64 * 1024; // enough for the error line at the end; progress lines before it are dropped

/** Runs `shears ARGS`; resolves with its exit status, stdout, its error line and wall seconds. */
function shears(args, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const out = [];
    let errTail = '';
    const proc = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout.on('data', (b) => out.push(b));
    proc.stderr.on('data', (b) => {
      errTail = (errTail + b.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    let timedOut = false;
    let killTimer = null;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGTERM');
      killTimer = setTimeout(() => proc.kill('SIGKILL'), 10_000); // a run that does not unwind
    }, timeoutMs);
    let settled = false;
    const settle = (code, signal, spawnError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (child === proc) child = null;
      resolve({
        ok: code === 0,
        stdout: Buffer.concat(out).toString('utf8'),
        error: spawnError ?? (timedOut ? `timed out after ${timeoutMs / 1000} s` : errorLine(errTail) || `exit ${code ?? signal}`),
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      });
    };
    proc.on('error', (e) => settle(null, null, `could not run shears: ${e.message}`));
    proc.on('close', (code, signal) => settle(code, signal));
  });
}

/** The error a failed run printed: its last `shears: ...` or `error: ...` line (commander adds usage after it), else its last line. */
function errorLine(stderr) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.filter((l) => /^(shears|error):/i.test(l)).pop() ?? lines.pop() ?? '';
}

/** Runs shears and parses its --json stdout; throws its error line on failure. */
async function shearsJson(args, timeoutMs) {
  if (stopCause) throw new Stopped();
  const r = await shears(args, timeoutMs);
  if (stopCause) throw new Stopped();
  if (!r.ok) throw new Error(r.error);
  try {
    return { json: JSON.parse(r.stdout), seconds: r.seconds };
  } catch {
    throw new Error(`unreadable JSON on stdout of shears ${args[0]}`);
  }
}

class Stopped extends Error {}

// ---------------------------------------------------------------- measuring

/** The held-out measures of a model against the dense one, from eval's JSON. */
function measures(e) {
  const { all, answer } = e;
  const queryPositions = all.positions - (answer?.positions ?? 0);
  const querySum = (k) => all.positions * all[k] - (answer ? answer.positions * answer[k] : 0);
  return {
    ppl_dense: all.perplexity_dense,
    ppl: all.perplexity_pruned,
    loss: all.loss,
    query_loss: queryPositions > 0 ? querySum('loss') / queryPositions : NaN,
    answer_loss: answer?.loss ?? NaN,
    kl: all.kl,
    query_kl: queryPositions > 0 ? querySum('kl') / queryPositions : NaN,
    answer_kl: answer?.kl ?? NaN,
    top1: all.top1_agreement,
    positions: all.positions,
    answer_positions: answer?.positions ?? 0,
  };
}

/** Prunes one cell, measures it on the held-out queries, removes the output; never throws but on a stop. */
async function pruneAndMeasure(o, m, level, method, label, extra, progress) {
  const slug = `${m.name}-${level.name.replace(':', 'of')}-${label.replace(/[^A-Za-z0-9]+/g, '_')}`;
  const out = path.join(o.outDir, 'models', `${slug}.gguf`);
  const row = { model: m.name, level: level.name, method, label, args: extra };
  try {
    const prune = await shearsJson(['prune', '--model', m.file, '--method', method, ...level.args, '--calib', m.calib, '--seq-len', o.seqLen, '--calib-samples', o.calibSamples, '--seed', SEED, ...extra, '--out', out, '--force', '--json'], o.timeoutMs);
    row.seconds = prune.json.timings?.total ?? NaN;
    row.peak_rss_bytes = prune.json.peak_rss_bytes ?? NaN;
    row.achieved_sparsity = prune.json.achieved_sparsity;
    writeJson(path.join(o.outDir, 'reports', `${slug}.prune.json`), prune.json);
    const ev = await shearsJson(['eval', '--model', out, '--reference', m.file, '--queries', m.heldOut, '--generate-tokens', EVAL_GENERATE_TOKENS, '--json'], o.timeoutMs);
    writeJson(path.join(o.outDir, 'reports', `${slug}.eval.json`), ev.json);
    Object.assign(row, measures(ev.json));
    row.eval_seconds = ev.seconds;
  } catch (e) {
    if (e instanceof Stopped) throw e;
    row.error = e.message;
  } finally {
    if (!o.keep) for (const f of [out, out.replace(/\.gguf$/, '.prune-report.json')]) fs.rmSync(f, { force: true });
  }
  progress(row);
  return row;
}

/** The model's queries, their split, and the dense model measured against itself. */
async function prepareModel(o, name) {
  const m = { name, ...MODELS[name] };
  if (!fs.existsSync(m.file)) throw new Error(`model not found: ${m.file}`);
  if (m.queries === 'tinystories') {
    if (!fs.existsSync(storiesText)) throw new Error(`TinyStories text not found: ${storiesText}`);
    m.queries = path.join(o.outDir, 'tinystories-queries.txt');
    fs.writeFileSync(m.queries, storyOpenings(fs.readFileSync(storiesText, 'utf8'), o.stories).join('\n') + '\n');
  }
  const base = path.join(o.outDir, path.basename(m.queries, '.txt'));
  m.calib = `${base}-calib.txt`;
  m.heldOut = `${base}-held-out.txt`;
  m.split = (await shearsJson(['queries', 'split', '--data', m.queries, '--held-out', HELD_OUT, '--seed', SEED, '--out-calib', m.calib, '--out-held-out', m.heldOut, '--force', '--json'], o.timeoutMs)).json;
  const dense = await shearsJson(['eval', '--model', m.file, '--reference', m.file, '--queries', m.heldOut, '--generate-tokens', EVAL_GENERATE_TOKENS, '--json'], o.timeoutMs);
  m.dense = { ...measures(dense.json), eval_seconds: dense.seconds };
  return m;
}

/** Loss and KL over SparseGPT's at the same model and level, and query-aware's target. */
function addRatios(rows, models) {
  const byCell = (label) => new Map(rows.filter((r) => r.label === label && !r.error).map((r) => [`${r.model}|${r.level}`, r]));
  const sgpt = byCell('sparsegpt');
  const fullQa = byCell('query-aware');
  for (const r of rows) {
    const s = sgpt.get(`${r.model}|${r.level}`);
    r.loss_ratio = s && !r.error ? r.loss / s.loss : NaN;
    r.kl_ratio = s && !r.error ? r.kl / s.kl : NaN;
    const full = fullQa.get(`${r.model}|${r.level}`);
    if (r.ablation) r.loss_ratio_full = full && !r.error ? r.loss / full.loss : NaN;
    if (r.label !== 'query-aware') continue;
    const factor = models[r.model].target;
    if (!s || r.error) r.target = '-';
    else r.target = (factor < 1 ? r.loss <= factor * s.loss : r.loss < s.loss) ? 'met' : 'missed';
  }
}

// ---------------------------------------------------------------- output

const fmt = (x, d) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '-');
const mib = (b) => fmt(b / 2 ** 20, 0);
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\s+/g, ' ');

function modelTable(m, rows) {
  const lines = [`### ${m.name}`, ''];
  if (m.error) return [...lines, `dense measurement failed: ${cell(m.error)}`, ''];
  const d = m.dense;
  lines.push(`queries: ${m.split.calibration} calibration, ${m.split.held_out} held out; dense held-out perplexity ${fmt(d.ppl, 4)} (${d.positions} positions, ${d.answer_positions} answer positions)`, '');
  lines.push('| level | method | held-out ppl | loss | loss/SparseGPT | query-pos loss | answer loss | KL | KL/SparseGPT | answer KL | top-1 | seconds | peak RSS MiB | target |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    if (r.error) lines.push(`| ${r.level} | ${r.label} | failed: ${cell(r.error)} | | | | | | | | | ${fmt(r.seconds, 2)} | ${mib(r.peak_rss_bytes)} | ${r.target ?? ''} |`);
    else lines.push(`| ${r.level} | ${r.label} | ${fmt(r.ppl, 4)} | ${fmt(r.loss, 5)} | ${fmt(r.loss_ratio, 3)} | ${fmt(r.query_loss, 5)} | ${fmt(r.answer_loss, 5)} | ${fmt(r.kl, 5)} | ${fmt(r.kl_ratio, 3)} | ${fmt(r.answer_kl, 5)} | ${pct(r.top1)} | ${fmt(r.seconds, 2)} | ${mib(r.peak_rss_bytes)} | ${r.target ?? ''} |`);
  }
  return [...lines, ''];
}

function ablationTable(rows) {
  const lines = ['### Ablation (query-aware with one step removed)', ''];
  lines.push('| model | level | variant | held-out ppl | loss | loss/query-aware | loss/SparseGPT | KL | top-1 | seconds | peak RSS MiB |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    if (r.error) lines.push(`| ${r.model} | ${r.level} | ${r.label} | failed: ${cell(r.error)} | | | | | | | |`);
    else lines.push(`| ${r.model} | ${r.level} | ${r.label} | ${fmt(r.ppl, 4)} | ${fmt(r.loss, 5)} | ${fmt(r.loss_ratio_full ?? 1, 3)} | ${fmt(r.loss_ratio, 3)} | ${fmt(r.kl, 5)} | ${pct(r.top1)} | ${fmt(r.seconds, 2)} | ${mib(r.peak_rss_bytes)} |`);
  }
  return [...lines, ''];
}

function markdown(o, models, rows, wall) {
  const lines = ['## Query-aware table', ''];
  lines.push(`Calibration: the calibration part of each split, --seq-len ${o.seqLen} --calib-samples ${o.calibSamples} --seed ${SEED}; held out: ${HELD_OUT} of the queries (split seed ${SEED}); measured with eval --generate-tokens ${EVAL_GENERATE_TOKENS} (greedy). loss = log ppl_pruned - log ppl_dense (nats) over all held-out positions; KL(dense || pruned) over all positions; target: query-aware's loss <= 0.7x SparseGPT's (demo, stories260K), < SparseGPT's (BabyLlama).`, '');
  for (const m of models) lines.push(...modelTable(m, rows.filter((r) => r.model === m.name && !r.ablation)));
  if (o.ablation) lines.push(...ablationTable(rows.filter((r) => r.label === 'query-aware' || r.ablation)));
  lines.push(`wall time ${fmt(wall, 1)} s${stopCause ? `; stopped by ${stopCause}: the tables are partial` : ''}; outputs in ${o.outDir}`);
  return lines.join('\n') + '\n';
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parseOptions(process.argv.slice(2));
  fs.mkdirSync(path.join(o.outDir, 'models'), { recursive: true });
  const t0 = Date.now();
  const models = [];
  const rows = [];
  let denseFailed = false;
  const planned = o.models.length * o.levels.length * (o.methods.length + (o.ablation ? ABLATION.length : 0));
  const progress = (r) =>
    console.error(`[${rows.length + 1}/${planned}] ${r.model} ${r.level} ${r.label}: ${r.error ? `failed: ${r.error}` : `loss ${fmt(r.loss, 5)}, prune ${fmt(r.seconds, 1)} s, eval ${fmt(r.eval_seconds, 1)} s`}`);
  try {
    for (const name of o.models) {
      let m;
      try {
        m = await prepareModel(o, name);
        console.error(`${name}: ${m.split.calibration} calibration / ${m.split.held_out} held-out queries, dense ppl ${fmt(m.dense.ppl, 4)}`);
      } catch (e) {
        if (e instanceof Stopped) throw e;
        m = { name, error: e.message };
        denseFailed = true;
        console.error(`${name}: dense measurement failed: ${e.message}`);
      }
      models.push(m);
      if (m.error) continue;
      for (const level of o.levels) {
        for (const method of o.methods) {
          const extra = [...(METHOD_ARGS[method]?.(m) ?? []), ...(method === 'query-aware' ? o.qaArgs : [])];
          rows.push(await pruneAndMeasure(o, m, level, method, method, extra, progress));
        }
        if (!o.ablation) continue;
        for (const a of ABLATION) {
          const row = await pruneAndMeasure(o, m, level, 'query-aware', a.label, [...METHOD_ARGS['query-aware'](m), ...o.qaArgs, ...a.args], progress);
          rows.push({ ...row, ablation: true });
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  }
  const wall = (Date.now() - t0) / 1000;
  addRatios(rows, MODELS);
  const result = {
    protocol: { held_out: Number(HELD_OUT), split_seed: Number(SEED), seq_len: Number(o.seqLen), calib_samples: Number(o.calibSamples), calib_seed: Number(SEED), eval_generate_tokens: Number(EVAL_GENERATE_TOKENS), stories: o.stories, levels: o.levels.map((l) => l.name), methods: o.methods, qa_args: o.qaArgs, ablation: o.ablation },
    models: models.map(({ name, file, queries, calib, heldOut, split, dense, error }) => ({ name, file, queries, calib, held_out: heldOut, split, dense, error })),
    rows,
    wall_seconds: wall,
    stopped: stopCause,
    out_dir: o.outDir,
  };
  const md = markdown(o, models, rows, wall);
  writeJson(path.join(o.outDir, 'results.json'), result);
  fs.writeFileSync(path.join(o.outDir, 'tables.md'), md);
  process.stdout.write(o.json ? JSON.stringify(result, null, 2) + '\n' : md);
  if (stopCause) return SIGNAL_CODES[stopCause];
  return denseFailed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`query-aware-table: ${e.stack ?? e}`);
    process.exitCode = 1;
  },
);
