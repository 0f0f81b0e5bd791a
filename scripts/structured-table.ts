// The structured pruning table of issue 10 ("Done when"): on the demo model, stories260K
// and BabyLlama, every structured method at 10/20/30% width (bias: MLP channels;
// block-influence: 1 and 2 blocks) is pruned twice: to GGUF (per-block widths where the method picks them; f32
// weights), which shears loads back and llama.cpp loads, both giving a perplexity on the
// same held-out token ids and tokens/s on the same thread count; and with --uniform to a
// Hugging Face folder, which shears loads back (perplexity on the same ids). A case that
// fails records its error in the table. TinyStories models calibrate on the first part of
// tinystories_val.txt and are evaluated on a later part (no overlap); the demo model on
// its calib.txt / eval.txt.
//   node -r ./scripts/fuzz/ts-hook.js scripts/structured-table.ts [--llama-cpp DIR] [--out docs/structured-results.md]
//     [--models demo,stories260K,babyllama] [--methods l1,random,wanda-sp,flap,bias,block-influence] [--reps 3]
// llama.cpp: --llama-cpp DIR or SHEARS_LLAMA_CPP_DIR (a folder where `npm install
// node-llama-cpp@3.21.1` ran); without it the llama.cpp columns are '-'.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ForwardModel } from '../lib/forward/model';
import { perplexity } from '../lib/eval/perplexity';
import { loadModel } from '../lib/formats/load';
import { structuredMethod } from '../lib/methods/registry';
import { Case, denseGguf, evalIds, Measured, measureFile, pruneCase, ROOT } from '../bench/structured';
import { findLlamaCpp, LlamaCpp, SpeedOptions, timingIds } from '../bench/structured-engines';
import { machineInfo } from '../bench/machine';

const SHARED = path.resolve(ROOT, '..', 'shared', 'data');
const TINYSTORIES = path.join(SHARED, 'text', 'tinystories', 'tinystories_val.txt');
// Characters of tinystories_val.txt: calibration reads [0, CALIB_END), evaluation starts at EVAL_FROM.
const CALIB_END = 400_000;
const EVAL_FROM = 600_000;
const CALIB = { samples: 32, seqLen: 128 };
const PPL_TOKENS = 128;
/** The held-out quality column: shears' perplexity over this many windows of the context length (llama.cpp's teacher-forced check stays on PPL_TOKENS). */
const HELDOUT_WINDOWS = 16;

interface ModelSpec {
  name: string;
  model: string;
  tokenizer?: string;
  calib: string;
  eval: string;
  evalFrom: number;
}

function models(work: string): ModelSpec[] {
  const demo = path.join(ROOT, 'assets', 'demo-model');
  const list: ModelSpec[] = [{ name: 'demo', model: demo, calib: path.join(demo, 'calib.txt'), eval: path.join(demo, 'eval.txt'), evalFrom: 0 }];
  if (!fs.existsSync(TINYSTORIES)) return list;
  const calib = path.join(work, 'tinystories-calib.txt');
  fs.writeFileSync(calib, fs.readFileSync(TINYSTORIES, 'utf8').slice(0, CALIB_END));
  const stories = path.join(SHARED, 'models', 'stories260K', 'stories260K.gguf');
  const baby = path.join(SHARED, 'models', 'babyllama-tok105');
  if (fs.existsSync(stories)) list.push({ name: 'stories260K', model: stories, calib, eval: TINYSTORIES, evalFrom: EVAL_FROM });
  if (fs.existsSync(baby))
    list.push({ name: 'babyllama', model: path.join(baby, 'model5000.bin'), tokenizer: path.join(baby, 'tok105.bin'), calib, eval: TINYSTORIES, evalFrom: EVAL_FROM });
  return list;
}

interface Row {
  model: string;
  method: string;
  level: string;
  gguf?: { achieved: number; parameters: number; bytes: number; widths: string; seconds: number; measured: Measured; heldOut: number };
  ggufError?: string;
  hf?: { achieved: number; parameters: number; seconds: number; perplexity: number; heldOut: number };
  hfError?: string;
}

/** shears' perplexity of a model folder/file on the ids (teacher-forced, one window). */
async function shearsPerplexity(file: string, ids: number[]): Promise<number> {
  const m = await loadModel(file);
  try {
    const fm = new ForwardModel(m, { backend: 'cpu' });
    const hidden = await fm.forward(ids, 1, ids.length);
    return Math.exp((await fm.nll(hidden, [...ids.slice(1), -1])).mean);
  } finally {
    m.close();
  }
}

/** shears' perplexity with the standard protocol: non-overlapping windows of the context length over `ids`. */
async function heldOutPerplexity(file: string, ids: number[]): Promise<number> {
  const m = await loadModel(file);
  try {
    return (await perplexity(new ForwardModel(m, { backend: 'cpu' }), ids, { seqLen: m.config.contextLength })).perplexity;
  } finally {
    m.close();
  }
}

const message = (e: unknown) => (e as Error).message.replace(/\s+/g, ' ').replace(/\|/g, '/');

async function runModel(spec: ModelSpec, methods: string[], lc: LlamaCpp | undefined, reps: number, work: string, log: (r: unknown) => void): Promise<Row[]> {
  const dir = path.join(work, spec.name);
  fs.mkdirSync(dir, { recursive: true });
  const dense = await denseGguf(spec.model, spec.tokenizer, path.join(dir, 'dense.gguf'), 'f32');
  const m = await loadModel(spec.model, { tokenizer: spec.tokenizer });
  const blocks = m.config.numLayers;
  m.close();
  const T = Math.min(256, dense.contextLength);
  const ids = await evalIds(spec.model, spec.tokenizer, spec.eval, spec.evalFrom, Math.min(PPL_TOKENS, dense.contextLength));
  const heldIds = await evalIds(spec.model, spec.tokenizer, spec.eval, spec.evalFrom, HELDOUT_WINDOWS * dense.contextLength);
  const speed: SpeedOptions = { threads: 1, prefillTokens: T, decodeTokens: 32, reps };
  const speedIds = timingIds(ids, T);
  const rows: Row[] = [];
  const denseRow: Row = {
    model: spec.name, method: 'dense', level: '-',
    gguf: {
      achieved: 0,
      parameters: dense.parameters,
      bytes: dense.bytes,
      widths: '',
      seconds: 0,
      measured: await measureFile(path.join(dir, 'dense.gguf'), lc, speedIds, ids, speed),
      heldOut: await heldOutPerplexity(path.join(dir, 'dense.gguf'), heldIds),
    },
  };
  rows.push(denseRow);
  log(denseRow);
  const args = { model: spec.model, tokenizer: spec.tokenizer, calib: spec.calib, calibSamples: CALIB.samples, seqLen: Math.min(CALIB.seqLen, dense.contextLength), dtype: 'f32' as const };
  const cases: { c: Case; level: string }[] = [];
  for (const method of methods) {
    if (method === 'block-influence')
      for (const k of [1, 2]) cases.push({ c: { method, structure: 'layers', sparsity: k / blocks, uniform: false }, level: `${k} block${k > 1 ? 's' : ''}` });
    else {
      // width (MLP channels and heads) where the method can remove both; bias: MLP channels only.
      const structure = structuredMethod(method)?.structures.includes('width') === false ? 'channels' : 'width';
      for (const s of [0.1, 0.2, 0.3]) cases.push({ c: { method, structure, sparsity: s, uniform: false }, level: `${Math.round(s * 100)}% ${structure}` });
    }
  }
  for (const { c, level } of cases) {
    const row: Row = { model: spec.name, method: c.method, level };
    const gguf = path.join(dir, `${c.method}-${c.sparsity}.gguf`);
    try {
      const p = await pruneCase(args, c, gguf);
      row.gguf = {
        achieved: p.achievedSparsity,
        parameters: p.parameters,
        bytes: p.bytes,
        widths: p.widths,
        seconds: p.seconds,
        measured: await measureFile(gguf, lc, speedIds, ids, speed),
        heldOut: await heldOutPerplexity(gguf, heldIds),
      };
    } catch (e) {
      row.ggufError = message(e);
    }
    fs.rmSync(gguf, { force: true });
    const hf = path.join(dir, `${c.method}-${c.sparsity}-hf`);
    try {
      const p = await pruneCase(args, { ...c, uniform: true }, hf);
      row.hf = { achieved: p.achievedSparsity, parameters: p.parameters, seconds: p.seconds, perplexity: await shearsPerplexity(hf, ids), heldOut: await heldOutPerplexity(hf, heldIds) };
    } catch (e) {
      row.hfError = message(e);
    }
    fs.rmSync(hf, { recursive: true, force: true });
    rows.push(row);
    log(row);
  }
  return rows;
}

const f = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

function markdown(rows: Row[]): string {
  const head =
    '| model | method | level | achieved | parameters | MiB | held-out ppl | ppl shears | ppl llama.cpp | rel. diff | shears prefill tok/s | llama.cpp prefill tok/s | shears decode tok/s | llama.cpp decode tok/s | prune s | widths left (heads/kv/MLP per block) | HF --uniform: achieved | parameters | held-out ppl | ppl shears |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const g = r.gguf;
    const s = g?.measured.shears;
    const l = g?.measured.llamaCpp;
    const lOk = l && !('error' in l) ? l : undefined;
    const gguf = g
      ? [f(g.achieved, 3), String(g.parameters), f(g.bytes / 2 ** 20, 2), f(g.heldOut, 3), f(s?.perplexity, 4), l && 'error' in l ? `error: ${l.error}` : f(lOk?.perplexity, 4),
         g.measured.relDiff === undefined ? '-' : g.measured.relDiff.toExponential(1), f(s?.prefillTokensPerSecond, 0), f(lOk?.prefillTokensPerSecond, 0),
         f(s?.decodeTokensPerSecond, 0), f(lOk?.decodeTokensPerSecond, 0), g.seconds ? f(g.seconds, 2) : '-', g.widths || 'as before']
      : [`GGUF error: ${r.ggufError}`, '', '', '', '', '', '', '', '', '', '', '', ''];
    const hf = r.hf ? [f(r.hf.achieved, 3), String(r.hf.parameters), f(r.hf.heldOut, 3), f(r.hf.perplexity, 4)] : r.hfError ? [`error: ${r.hfError}`, '', '', ''] : ['-', '-', '-', '-'];
    return `| ${r.model} | ${r.method} | ${r.level} | ${[...gguf, ...hf].join(' | ')} |`;
  });
  return [head, ...lines].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : undefined);
  const methods = (opt('--methods') ?? 'l1,random,wanda-sp,flap,bias,block-influence').split(',');
  const wanted = opt('--models')?.split(',');
  const reps = Number(opt('--reps') ?? 3);
  const found = await findLlamaCpp(opt('--llama-cpp'));
  const lc = 'note' in found ? undefined : found;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-structured-table-'));
  const started = new Date();
  const rows: Row[] = [];
  try {
    for (const spec of models(work).filter((s) => !wanted || wanted.includes(s.name)))
      rows.push(...(await runModel(spec, methods, lc, reps, work, (r) => process.stderr.write(`${JSON.stringify(r)}\n`))));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const m = machineInfo();
  const text = [
    `Measured ${started.toISOString()} on ${String(m.cpu)} (${String(m.logical_cpus)} logical CPUs shared with other work, load ${Number(m.load_average_1m).toFixed(1)} at the end), ${String(m.platform)}, node ${String(m.node)}; llama.cpp: ${lc ? `node-llama-cpp 3.21.1 from ${lc.dir}` : 'not found ('+(found as { note: string }).note+')'}.`,
    '',
    `Command: \`node -r ./scripts/fuzz/ts-hook.js scripts/structured-table.ts ${argv.join(' ')}\``,
    '',
    markdown(rows),
    note(),
  ].join('\n');
  const out = opt('--out');
  if (out) fs.writeFileSync(out, `${text}\n`);
  process.stdout.write(`${text}\n`);
}

function note(): string {
  return [
    '',
    `held-out ppl: shears' perplexity with the standard protocol (non-overlapping windows of the context length, BOS once) over the first ${HELDOUT_WINDOWS} windows of the held-out text: the quality column (the 128-token columns are there to compare the two engines).`,
    `GGUF columns: the method's own widths (per-block where it picks them: written as deci), f32 weights; perplexity on the first ${PPL_TOKENS} tokens of the held-out text (shears: one batch; llama.cpp: one token at a time, F32 KV cache, flash attention off), rel. diff = |ppl llama.cpp - ppl shears| / ppl shears.`,
    'tokens/s: 1 thread in both engines; prefill = 1 x min(256, context) tokens and the last logits, decode = 32 single-token steps; fastest of the reps after a warm-up (the machine is shared: the fastest run is the least disturbed).',
    `Calibration: ${CALIB.samples} random windows of min(${CALIB.seqLen}, context) tokens (TinyStories models: characters [0, ${CALIB_END}) of tinystories_val.txt; evaluation from character ${EVAL_FROM}). "prune s" is prune()'s total (load, calibration, scoring, surgery, write).`,
    'HF columns: the same method and level with --uniform, written as a Hugging Face folder and loaded back by shears (perplexity on the same ids).',
  ].join('\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`structured-table: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
