// Structured pruning benchmark: prunes a model to GGUF for each (method, structure,
// sparsity) case, in a temp folder, and measures the dense and every pruned file in the
// same run: prefill (1 x T tokens) and decode tokens/s in shears' forward pass and in
// llama.cpp (node-llama-cpp, when found) on the same threads, and the perplexity each
// engine gives the file on the same token ids (with their relative difference).
//   node dist/bench/structured.js [--json] [--model DIR|.gguf|.bin] [--tokenizer tok.bin]
//     [--calib FILE] [--eval FILE] [--eval-from CHARS] [--cases l1:width:0.3,flap:width:0.3,...]
//     [--threads N] [--prefill T] [--decode D] [--reps R] [--ppl-tokens N] [--dtype f32|f16]
//     [--calib-samples K] [--seq-len L] [--llama-cpp DIR] [--keep DIR]
// A case is method:structure:sparsity, with :uniform appended for the same widths in
// every block. llama.cpp: --llama-cpp DIR or SHEARS_LLAMA_CPP_DIR names a folder where
// `npm install node-llama-cpp@3.21.1` ran; without it those columns are skipped (said in
// a note). The perplexity check wants --dtype f32: llama.cpp multiplies f16 weights with
// activations rounded to f16 (scripts/crosscheck-structured-gguf.ts).
// --threads defaults to 1: on a machine whose cores are busy with other work, llama.cpp's
// threads wait on each other at every op (2 threads on 2 loaded cores measured 3-50
// decode tokens/s on the demo model against 200-490 with 1), which says nothing of the model.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { writeModelAs } from '../lib/formats/convert';
import { loadModel } from '../lib/formats/load';
import { Structure, STRUCTURES } from '../lib/methods/plugin';
import { TensorDType } from '../lib/model/types';
import { prune } from '../lib/prune/run';
import { loadTokenizer, tokenizerArtifacts } from '../lib/tokenizer';
import { EngineResult, findLlamaCpp, LlamaCpp, llamaCppEngine, llamaCppFails, shearsEngine, SpeedOptions, timingIds } from './structured-engines';
import { emitReport, machineInfo, table } from './machine';

export interface Case {
  method: string;
  structure: Structure;
  sparsity: number;
  uniform: boolean;
}

export interface BenchArgs extends SpeedOptions {
  json: boolean;
  model: string;
  tokenizer?: string;
  calib?: string;
  eval?: string;
  evalFrom: number;
  cases: Case[];
  pplTokens: number;
  dtype: TensorDType;
  calibSamples: number;
  seqLen?: number;
  llamaCpp?: string;
  keep?: string;
}

// The repository root, from bench/ (ts-hook) or dist/bench/ (compiled).
export const ROOT = path.basename(path.resolve(__dirname, '..')) === 'dist' ? path.resolve(__dirname, '..', '..') : path.resolve(__dirname, '..');
const DEMO = path.join(ROOT, 'assets', 'demo-model');
const DEFAULT_CASES = 'l1:width:0.3:uniform,random:width:0.3:uniform,wanda-sp:width:0.3:uniform,flap:width:0.3,block-influence:layers:0.25';

export function parseCases(s: string): Case[] {
  return s.split(',').map((c) => {
    const [method, structure, sp, u, ...rest] = c.split(':');
    const sparsity = Number(sp);
    if (!method || !STRUCTURES.includes(structure as Structure) || !(sparsity >= 0 && sparsity < 1) || (u !== undefined && u !== 'uniform') || rest.length)
      throw new Error(`--cases: '${c}' is not method:structure:sparsity[:uniform] (structure one of ${STRUCTURES.join(', ')}, sparsity in [0, 1))`);
    return { method, structure: structure as Structure, sparsity, uniform: u === 'uniform' };
  });
}

function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { json: false, model: DEMO, evalFrom: 0, cases: parseCases(DEFAULT_CASES), threads: 1, prefillTokens: 256, decodeTokens: 32, reps: 3, pplTokens: 128, dtype: 'f32', calibSamples: 16 };
  const int = (k: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${k} needs an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--json') a.json = true;
    else if (k === '--model') a.model = v();
    else if (k === '--tokenizer') a.tokenizer = v();
    else if (k === '--calib') a.calib = v();
    else if (k === '--eval') a.eval = v();
    else if (k === '--eval-from') a.evalFrom = int(k, v(), 0);
    else if (k === '--cases') a.cases = parseCases(v());
    else if (k === '--threads') a.threads = int(k, v(), 1);
    else if (k === '--prefill') a.prefillTokens = int(k, v(), 1);
    else if (k === '--decode') a.decodeTokens = int(k, v(), 0);
    else if (k === '--reps') a.reps = int(k, v(), 1);
    else if (k === '--ppl-tokens') a.pplTokens = int(k, v(), 0);
    else if (k === '--calib-samples') a.calibSamples = int(k, v(), 1);
    else if (k === '--seq-len') a.seqLen = int(k, v(), 2);
    else if (k === '--llama-cpp') a.llamaCpp = v();
    else if (k === '--keep') a.keep = v();
    else if (k === '--dtype') {
      const d = v();
      if (d !== 'f32' && d !== 'f16') throw new Error(`--dtype must be f32 or f16, got ${d}`);
      a.dtype = d;
    } else throw new Error(`unknown argument ${k} (see the header of bench/structured.ts)`);
  }
  if (path.resolve(a.model) === DEMO) {
    a.calib ??= path.join(DEMO, 'calib.txt');
    a.eval ??= path.join(DEMO, 'eval.txt');
  }
  if (!a.eval) throw new Error('--eval FILE (text for the timing and perplexity tokens) is needed for a model other than the demo model');
  return a;
}

/** The first n token ids (BOS first) of the text of `file` from character `from` on. */
export async function evalIds(model: string, tokenizer: string | undefined, file: string, from: number, n: number): Promise<number[]> {
  const m = await loadModel(model, { tokenizer });
  try {
    const tok = await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize });
    const text = fs.readFileSync(file, 'utf8').slice(from, from + Math.max(20000, n * 40));
    const ids = tok.encode(text, { bos: true }).slice(0, n);
    if (ids.length < n) throw new Error(`${file}: only ${ids.length} tokens from character ${from}, ${n} needed`);
    return ids;
  } finally {
    m.close();
  }
}

/** The model as it is, written as GGUF (the dense baseline both engines read). */
export async function denseGguf(model: string, tokenizer: string | undefined, out: string, dtype: TensorDType): Promise<{ parameters: number; bytes: number; contextLength: number }> {
  const m = await loadModel(model, { tokenizer });
  try {
    await writeModelAs(m, out, { dtype, force: true, tokenizerArtifacts: (src) => tokenizerArtifacts(src, { vocabSize: m.config.vocabSize, contextLength: m.config.contextLength }) });
    let parameters = 0;
    for (const t of m.tensors.values()) parameters += t.data.length;
    return { parameters, bytes: fs.statSync(out).size, contextLength: m.config.contextLength };
  } finally {
    m.close();
  }
}

export interface PruneOutcome {
  achievedSparsity: number;
  parameters: number;
  bytes: number;
  seconds: number;
  /** Per-block "heads/kv/mlp" of the blocks left, and which blocks went. */
  widths: string;
}

export async function pruneCase(a: Pick<BenchArgs, 'model' | 'tokenizer' | 'calib' | 'calibSamples' | 'seqLen' | 'dtype'>, c: Case, out: string): Promise<PruneOutcome> {
  const r = await prune({
    model: a.model,
    tokenizer: a.tokenizer,
    method: c.method,
    structure: c.structure,
    sparsity: c.sparsity,
    uniform: c.uniform || undefined,
    calib: a.calib,
    calibSamples: a.calibSamples,
    seqLen: a.seqLen,
    dtype: a.dtype,
    backend: 'cpu',
    out,
    force: true,
  });
  const s = r.structured!;
  const removed = s.removed_blocks.length ? ` (blocks ${s.removed_blocks.join(', ')} removed)` : '';
  return {
    achievedSparsity: s.achieved_sparsity,
    parameters: s.parameters.after,
    bytes: fs.statSync(out).size,
    seconds: r.timings.total,
    widths: s.widths.after.map((w) => `${w.heads}/${w.kv_heads}/${w.mlp}`).join(' ') + removed,
  };
}

export interface Measured {
  shears: EngineResult;
  llamaCpp?: EngineResult | { error: string };
  /** |ppl llama.cpp - ppl shears| / ppl shears. */
  relDiff?: number;
}

/** Both engines on one file, one after the other (never both loaded at once). */
export async function measureFile(file: string, lc: LlamaCpp | undefined, speedIds: number[], pplIds: number[] | undefined, o: SpeedOptions): Promise<Measured> {
  const shears = await shearsEngine(file, speedIds, pplIds, o);
  if (!lc) return { shears };
  let llamaCpp: EngineResult | { error: string };
  const fails = llamaCppFails(lc, file);
  if (fails) llamaCpp = { error: fails };
  else
    try {
      llamaCpp = await llamaCppEngine(lc, file, speedIds, pplIds, o);
    } catch (e) {
      llamaCpp = { error: (e as Error).message };
    }
  const relDiff =
    'perplexity' in llamaCpp && llamaCpp.perplexity !== undefined && shears.perplexity !== undefined
      ? Math.abs(llamaCpp.perplexity - shears.perplexity) / shears.perplexity
      : undefined;
  return { shears, llamaCpp, relDiff };
}

interface Row {
  case: string;
  method: string;
  structure: string;
  uniform: boolean;
  requested: number;
  achieved: number;
  parameters: number;
  bytes: number;
  widths: string;
  pruneSeconds: number;
  measured?: Measured;
  error?: string;
}

const ok = (e: EngineResult | { error: string } | undefined): EngineResult | undefined => (e && !('error' in e) ? e : undefined);

function rowsTable(rows: Row[], dense: Row): string {
  const speed = (r: Row, which: 'shears' | 'llamaCpp', k: 'prefillTokensPerSecond' | 'decodeTokensPerSecond') => ok(r.measured?.[which])?.[k];
  const cell = (x: number | undefined, digits = 1) => (x === undefined ? '-' : x.toFixed(digits));
  const ratio = (r: Row, which: 'shears' | 'llamaCpp', k: 'prefillTokensPerSecond' | 'decodeTokensPerSecond') => {
    const x = speed(r, which, k);
    const d = speed(dense, which, k);
    return x === undefined || d === undefined ? '-' : `${(x / d).toFixed(2)}x`;
  };
  return table(
    ['case', 'req', 'achieved', 'params', 'MiB', 'shears pf tok/s', 'x', 'shears dec tok/s', 'x', 'llama.cpp pf tok/s', 'x', 'llama.cpp dec tok/s', 'x', 'ppl shears', 'ppl llama.cpp', 'rel diff', 'prune s'],
    rows.map((r) =>
      r.error
        ? [r.case, cell(r.requested, 2), `error: ${r.error}`, '', '', '', '', '', '', '', '', '', '', '', '', '', '']
        : [
            r.case,
            cell(r.requested, 2),
            cell(r.achieved, 3),
            String(r.parameters),
            cell(r.bytes / 2 ** 20, 2),
            cell(speed(r, 'shears', 'prefillTokensPerSecond')),
            ratio(r, 'shears', 'prefillTokensPerSecond'),
            cell(speed(r, 'shears', 'decodeTokensPerSecond')),
            ratio(r, 'shears', 'decodeTokensPerSecond'),
            cell(speed(r, 'llamaCpp', 'prefillTokensPerSecond')),
            ratio(r, 'llamaCpp', 'prefillTokensPerSecond'),
            cell(speed(r, 'llamaCpp', 'decodeTokensPerSecond')),
            ratio(r, 'llamaCpp', 'decodeTokensPerSecond'),
            cell(r.measured?.shears.perplexity, 4),
            r.measured?.llamaCpp && 'error' in r.measured.llamaCpp ? `error: ${r.measured.llamaCpp.error}` : cell(ok(r.measured?.llamaCpp)?.perplexity, 4),
            r.measured?.relDiff === undefined ? '-' : r.measured.relDiff.toExponential(1),
            r.pruneSeconds ? cell(r.pruneSeconds, 2) : '-',
          ],
    ),
  );
}

export const caseName = (c: Case) => `${c.method} ${c.structure}${c.uniform ? ' uniform' : ''}`;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const found = await findLlamaCpp(a.llamaCpp);
  const lc = 'note' in found ? undefined : found;
  const notes: string[] = 'note' in found ? [found.note] : [];
  const work = a.keep ? (fs.mkdirSync(a.keep, { recursive: true }), a.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'shears-bench-structured-'));
  try {
    const denseFile = path.join(work, 'dense.gguf');
    const d = await denseGguf(a.model, a.tokenizer, denseFile, a.dtype);
    a.prefillTokens = Math.min(a.prefillTokens, d.contextLength);
    a.decodeTokens = Math.min(a.decodeTokens, d.contextLength - 1);
    const pplN = Math.min(a.pplTokens, d.contextLength);
    const ids = await evalIds(a.model, a.tokenizer, a.eval!, a.evalFrom, Math.max(pplN, 2));
    const speedIds = timingIds(ids, Math.max(a.prefillTokens, a.decodeTokens + 1));
    const pplIds = pplN >= 2 ? ids.slice(0, pplN) : undefined;
    const speed: SpeedOptions = { threads: a.threads, prefillTokens: a.prefillTokens, decodeTokens: a.decodeTokens, reps: a.reps };
    const dense: Row = {
      case: 'dense', method: 'dense', structure: '-', uniform: true, requested: 0, achieved: 0,
      parameters: d.parameters, bytes: d.bytes, widths: '', pruneSeconds: 0,
      measured: await measureFile(denseFile, lc, speedIds, pplIds, speed),
    };
    const rows: Row[] = [dense];
    for (const [i, c] of a.cases.entries()) {
      const base = { case: `${caseName(c)} ${c.sparsity}`, method: c.method, structure: c.structure, uniform: c.uniform, requested: c.sparsity };
      const out = path.join(work, `case${i}-${c.method}-${c.structure}-${c.sparsity}.gguf`);
      try {
        const p = await pruneCase(a, c, out);
        rows.push({ ...base, achieved: p.achievedSparsity, parameters: p.parameters, bytes: p.bytes, widths: p.widths, pruneSeconds: p.seconds, measured: await measureFile(out, lc, speedIds, pplIds, speed) });
      } catch (e) {
        rows.push({ ...base, achieved: NaN, parameters: 0, bytes: 0, widths: '', pruneSeconds: 0, error: (e as Error).message });
      }
      if (!a.keep) fs.rmSync(out, { force: true });
    }
    if (pplIds && a.dtype !== 'f32') notes.push('f16 weights: llama.cpp rounds activations to f16 in its matmuls, so the perplexities differ by more than 1e-4');
    const text = `structured pruning: ${a.model}, ${a.threads} threads, prefill 1 x ${a.prefillTokens}, decode ${a.decodeTokens}, fastest of ${a.reps}, perplexity on ${pplIds?.length ?? 0} tokens\n${rowsTable(rows, dense)}${notes.map((n) => `\nnote: ${n}`).join('')}`;
    emitReport(a.json, text, {
      benchmark: 'structured', machine: machineInfo(), date: new Date().toISOString(), model: a.model, dtype: a.dtype,
      threads: a.threads, prefill_tokens: a.prefillTokens, decode_tokens: a.decodeTokens, reps: a.reps, ppl_tokens: pplIds?.length ?? 0,
      llama_cpp: lc ? lc.dir : null, rows, notes,
    });
  } finally {
    if (!a.keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (e) => {
      process.stderr.write(`bench:structured: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
