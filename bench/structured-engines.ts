// The two engines bench:structured and scripts/structured-table.ts compare on one GGUF
// file: shears' own forward pass (ForwardModel, CPU) and llama.cpp through node-llama-cpp
// (an optional development tool in a throwaway folder, as scripts/crosscheck-llama-cpp.mjs
// uses it). Both get the same token ids and the same thread count:
//   prefill: 1 x T tokens through the model and the logits of the last one (llama.cpp's
//            evaluateWithoutGeneratingNewTokens computes those), fastest of `reps` after a warm-up;
//   decode:  D single-token steps after one token, each with its logits row;
//   perplexity: teacher-forced mean NLL of ids[1..] (llama.cpp one token at a time,
//            F32 KV cache, flash attention off: as scripts/crosscheck-structured-gguf.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ForwardModel } from '../lib/forward/model';
import { loadModel } from '../lib/formats/load';
import { setPoolThreads } from '../lib/kernels';
import { bestMs, measureSpeed, timingIds } from '../lib/eval/speed';

export interface SpeedOptions {
  threads: number;
  /** Prefill length T (1 x T tokens). */
  prefillTokens: number;
  /** Decode steps D (0: no decode measurement). */
  decodeTokens: number;
  reps: number;
}

export interface EngineResult {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond?: number;
  /** exp(mean NLL) of ids[1..] given the prefix; absent when no ids were given. */
  perplexity?: number;
  seconds: number;
}

export { timingIds };

export async function shearsEngine(file: string, speedIds: number[], pplIds: number[] | undefined, o: SpeedOptions): Promise<EngineResult> {
  const t0 = Date.now();
  setPoolThreads(o.threads);
  const m = await loadModel(file);
  try {
    const fm = new ForwardModel(m, { backend: 'cpu' });
    const speed = await measureSpeed(fm, speedIds, o);
    let perplexity: number | undefined;
    if (pplIds) {
      const hidden = await fm.forward(pplIds, 1, pplIds.length);
      perplexity = Math.exp((await fm.nll(hidden, [...pplIds.slice(1), -1])).mean);
    }
    return { ...speed, perplexity, seconds: (Date.now() - t0) / 1000 };
  } finally {
    m.close();
  }
}

// node-llama-cpp is ESM only: import() it without TypeScript turning it into require().
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<Record<string, unknown>>;

type Gen = AsyncGenerator<{ probabilities?: Map<number, number> }, void, number>;
interface Seq {
  evaluateWithMetadata(t: number[], m: object, o: object): Gen;
  evaluateWithoutGeneratingNewTokens(t: number[]): Promise<void>;
  clearHistory(): Promise<void>;
}
interface Ctx {
  getSequence(): Seq;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(o: object): Promise<Ctx>;
  dispose(): Promise<void>;
}
export interface LlamaCpp {
  dir: string;
  llama: { loadModel(o: object): Promise<LlamaModel> };
}

/**
 * node-llama-cpp from `dir` (a folder with node_modules/node-llama-cpp), else from
 * SHEARS_LLAMA_CPP_DIR; a note saying why not when neither has it.
 */
export async function findLlamaCpp(dir = process.env.SHEARS_LLAMA_CPP_DIR): Promise<LlamaCpp | { note: string }> {
  if (!dir) return { note: 'llama.cpp columns skipped: set SHEARS_LLAMA_CPP_DIR (or --llama-cpp DIR) to a folder where `npm install node-llama-cpp@3.21.1` ran' };
  const entry = path.join(path.resolve(dir), 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (!fs.existsSync(entry)) return { note: `llama.cpp columns skipped: ${entry} not found` };
  const nlc = await importEsm(entry);
  skipTokenizerProbe(nlc);
  const llama = await (nlc.getLlama as (o: object) => Promise<LlamaCpp['llama']>)({ gpu: false, build: 'never', logLevel: 'error' });
  return { dir, llama };
}

/**
 * node-llama-cpp's LlamaModel.getWarnings, called at the end of every load, round-trips
 * "\n some test text here" through llama.cpp's tokenizer, which throws an uncaught C++
 * exception (aborting the process) on a SentencePiece vocabulary without byte tokens
 * (BabyLlama's). These benchmarks feed llama.cpp token ids only, so the probe is replaced by
 * the file warnings alone; llama.cpp's own loading and evaluation are untouched.
 */
export function skipTokenizerProbe(nlc: Record<string, unknown>): void {
  const proto = (nlc.LlamaModel as { prototype: Record<string, unknown> }).prototype;
  proto.getWarnings = function (this: { _fileInsights: { getWarnings(p: string): string[] }; _modelPath: string }) {
    return this._fileInsights.getWarnings(this._modelPath);
  };
}

/** The same replacement, as source for a child process (see llamaCppFails). */
const SKIP_PROBE_SOURCE =
  'LlamaModel.prototype.getWarnings = function () { return this._fileInsights.getWarnings(this._modelPath); };';

/**
 * Whether llama.cpp loads `file` and evaluates a token, tried in a child process: llama.cpp
 * aborts the whole process on some files (an uncaught C++ exception), which must not end
 * the benchmark. Returns the reason it failed, or undefined.
 */
export function llamaCppFails(lc: LlamaCpp, file: string): string | undefined {
  const entry = path.join(path.resolve(lc.dir), 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  const code =
    `const { getLlama, LlamaModel } = await import(${JSON.stringify(entry)});` +
    SKIP_PROBE_SOURCE +
    `const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });` +
    `const m = await llama.loadModel({ modelPath: ${JSON.stringify(file)} });` +
    `const c = await m.createContext({ contextSize: 512, threads: 1 });` +
    `await c.getSequence().evaluateWithoutGeneratingNewTokens([0]); process.exit(0);`;
  // A file, not `node -e`: node-llama-cpp tests its binary in a child of the running script.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-llama-probe-'));
  const script = path.join(dir, 'probe.mjs');
  fs.writeFileSync(script, code);
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 600_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status === 0) return undefined;
  const lines = `${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() && !l.startsWith('    at '));
  const why = lines.filter((l) => /terminate|what\(\)|error/i.test(l)).slice(-2).join(' ') || lines.slice(-2).join(' ');
  return `llama.cpp ${r.signal ? `aborted (${r.signal})` : `failed (exit ${String(r.status)})`} loading the file: ${why.replace(/\[node-llama-cpp\]\s*/g, '').trim()}`;
}

export async function llamaCppEngine(lc: LlamaCpp, file: string, speedIds: number[], pplIds: number[] | undefined, o: SpeedOptions): Promise<EngineResult> {
  const t0 = Date.now();
  const model = await lc.llama.loadModel({ modelPath: file });
  const threads = { ideal: o.threads, min: o.threads };
  try {
    const T = o.prefillTokens;
    let ctx = await model.createContext({ contextSize: Math.max(512, T + 1, o.decodeTokens + 1), batchSize: Math.max(512, T), threads });
    let seq = ctx.getSequence();
    const prefillMs = await bestMs(
      o.reps,
      () => seq.evaluateWithoutGeneratingNewTokens(speedIds.slice(0, T)),
      () => seq.clearHistory(),
    );
    let decodeTokensPerSecond: number | undefined;
    if (o.decodeTokens > 0) {
      const D = o.decodeTokens;
      let it: Gen | undefined;
      const ms = await bestMs(
        Math.max(1, o.reps - 1),
        async () => {
          for (let i = 1; i <= D; i++) await it!.next(speedIds[i]);
        },
        async () => {
          await it?.return();
          await seq.clearHistory();
          it = seq.evaluateWithMetadata([speedIds[0]], {}, { temperature: 0, yieldEogToken: true });
          await it.next();
        },
      );
      await it?.return();
      decodeTokensPerSecond = (D * 1000) / ms;
    }
    await ctx.dispose();
    let perplexity: number | undefined;
    if (pplIds) {
      const ctxOpts = { contextSize: Math.max(512, pplIds.length), threads, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false };
      ctx = await model.createContext(ctxOpts);
      seq = ctx.getSequence();
      const it = seq.evaluateWithMetadata([pplIds[0]], { probabilities: true }, { temperature: 0, yieldEogToken: true });
      let res = await it.next();
      let nll = 0;
      for (let i = 1; i < pplIds.length; i++) {
        if (res.done) throw new Error('llama.cpp evaluation ended early');
        nll -= Math.log(res.value.probabilities!.get(pplIds[i]) ?? 0);
        if (i + 1 < pplIds.length) res = await it.next(pplIds[i]);
      }
      await it.return();
      await ctx.dispose();
      perplexity = Math.exp(nll / (pplIds.length - 1));
    }
    return { prefillTokensPerSecond: (T * 1000) / prefillMs, decodeTokensPerSecond, perplexity, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await model.dispose();
  }
}
