// Runs one case in this process: the loader for the case's spec, then a cheap use of what
// it returned (the `info` summary, every tensor touched at both ends, a short text
// encoded and decoded, the chat template rendered), and classifies how it ended.
import * as path from 'node:path';

import { ArgumentRangeError, ShearsError } from '../../lib/errors';
import { loadModel } from '../../lib/formats/load';
import { summarizeModel } from '../../lib/formats/summary';
import type { LoadedModel, TokenizerSource } from '../../lib/model/types';
import { chatRenderer } from '../../lib/prune/chat';
import { loadTokenizer } from '../../lib/tokenizer/load';
import type { Tokenizer } from '../../lib/tokenizer/types';
import type { HarnessBehaviour, Outcome, RunSpec } from './spec';

const SAMPLE = 'Once upon a time, there was a little girl named Lily. <s> héllo 🙂\n  end';

/** A loader result that breaks what every caller relies on. */
export class InvariantViolation extends Error {}

function checkTensors(m: LoadedModel): void {
  for (const t of m.tensors.values()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InvariantViolation(`tensor ${t.name} has shape [${t.shape}]`);
    if (t.data.length !== n) throw new InvariantViolation(`tensor ${t.name} [${t.shape}] holds ${t.data.length} values, not ${n}`);
    // Reading both ends faults (SIGBUS/SIGSEGV) if a view runs past its mapping.
    if (n > 0) void (t.data[0] + t.data[n - 1]);
  }
}

/** What the forward pass and the writers take for granted about a loaded config. */
function checkConfig(m: LoadedModel): void {
  const c = m.config;
  const sizes = { hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, vocabSize: c.vocabSize, contextLength: c.contextLength };
  for (const [k, v] of Object.entries(sizes)) if (!Number.isSafeInteger(v) || v <= 0) throw new InvariantViolation(`config ${k} is ${v}`);
  if (!Number.isFinite(c.normEps) || c.normEps < 0) throw new InvariantViolation(`config normEps is ${c.normEps}`);
  if (c.rope && (!Number.isFinite(c.rope.theta) || c.rope.theta <= 0)) throw new InvariantViolation(`config rope theta is ${c.rope.theta}`);
  for (const [k, v] of [['bosTokenId', c.bosTokenId], ['eosTokenId', c.eosTokenId]] as const)
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0 || v >= c.vocabSize)) throw new InvariantViolation(`config ${k} ${v} is outside the ${c.vocabSize}-token vocabulary`);
  const embed = m.tensors.get('embed.weight');
  if (embed && embed.shape[0] !== c.vocabSize) throw new InvariantViolation(`embed.weight has ${embed.shape[0]} rows for a ${c.vocabSize}-token vocabulary`);
}

const outside = (id: number, bound: number): boolean => !Number.isInteger(id) || id < 0 || id >= bound;

function useTokenizer(tok: Tokenizer, modelVocab?: number): void {
  const bound = Math.min(tok.vocabSize, modelVocab ?? Infinity);
  for (const [k, v] of [['bosId', tok.bosId], ['eosId', tok.eosId]] as const)
    if (v !== undefined && outside(v, bound)) throw new InvariantViolation(`tokenizer ${k} ${v} is outside the ${bound}-token vocabulary`);
  for (const text of [SAMPLE, '', ' ']) {
    const ids = tok.encode(text, { bos: tok.bosId !== undefined, eos: tok.eosId !== undefined });
    const bad = ids.find((id) => outside(id, bound));
    if (bad !== undefined) throw new InvariantViolation(`encode gave token id ${bad}, outside the ${bound}-token vocabulary`);
    tok.decode(ids);
  }
  // Every piece decodes, alone and after its predecessor (the first 256).
  for (let id = 0; id < Math.min(bound, 256); id++) {
    tok.piece(id);
    tok.decodeTokenBytes(id, id > 0 ? id - 1 : undefined);
  }
}

/** Renders the chat template of an HF tokenizer source, when it has one. */
function useChatTemplate(source: TokenizerSource): void {
  const render = chatRenderer({ tokenizer: source } as LoadedModel);
  render?.([{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi there' }]);
}

/** Misbehaves as asked, for the test of the supervisor (test/fuzz/fuzzer.test.ts). */
function harnessCheck(behave: HarnessBehaviour): void {
  const hold: unknown[] = [];
  switch (behave) {
    case 'succeed':
      return;
    case 'throw-typed':
      throw new ShearsError('harness check: a typed error', 'E_HARNESS');
    case 'throw-untyped':
      throw new TypeError('harness check: an untyped error');
    case 'spin':
      for (;;);
    case 'grow-heap':
      for (;;) hold.push(new Array(1 << 20).fill(hold.length));
    case 'grow-buffers':
      for (;;) hold.push(Buffer.alloc(64 << 20, 1));
    case 'abort':
      process.abort();
  }
}

async function run(dir: string, spec: RunSpec): Promise<void> {
  if (spec.kind === 'harness-check') return harnessCheck(spec.behave);
  const at = (p: string) => path.join(dir, p);
  if (spec.kind === 'hf-tokenizer') {
    const source: TokenizerSource = { kind: 'hf', tokenizerJsonPath: at(spec.json), ...(spec.config ? { tokenizerConfigPath: at(spec.config) } : {}) };
    useTokenizer(await loadTokenizer(source));
    useChatTemplate(source);
    return;
  }
  if (spec.kind === 'llama2c-tokenizer') {
    useTokenizer(await loadTokenizer({ kind: 'llama2c', path: at(spec.path) }, { vocabSize: spec.vocabSize }), spec.vocabSize);
    return;
  }
  const m = await loadModel(at(spec.path), spec.tokenizer ? { tokenizer: at(spec.tokenizer) } : {});
  try {
    summarizeModel(m);
    checkConfig(m);
    checkTensors(m);
    if (m.tokenizer.kind !== 'none') {
      useTokenizer(await loadTokenizer(m.tokenizer, { vocabSize: m.config.vocabSize }), m.config.vocabSize);
      if (m.tokenizer.kind === 'hf') useChatTemplate(m.tokenizer);
    }
  } finally {
    m.close();
  }
}

/** typed: a ShearsError (or ArgumentRangeError) with a code; invalid: a broken invariant; untyped: anything else. */
export function classifyError(e: unknown): Omit<Outcome, 'ms'> {
  const err = e instanceof Error ? e : new Error(String(e));
  const message = err.message.length > 2000 ? `${err.message.slice(0, 2000)}...` : err.message;
  if ((e instanceof ShearsError || e instanceof ArgumentRangeError) && typeof e.code === 'string') return { class: 'typed', name: err.name, code: e.code, message };
  if (e instanceof InvariantViolation) return { class: 'invalid', name: 'InvariantViolation', message };
  const stack = err.stack?.split('\n').slice(1, 4).map((l) => l.trim()).join(' | ');
  return { class: 'untyped', name: err.name, code: (e as { code?: string }).code, message, where: stack };
}

export async function exercise(dir: string, spec: RunSpec): Promise<Outcome> {
  const t0 = performance.now();
  try {
    await run(dir, spec);
    return { class: 'success', ms: performance.now() - t0 };
  } catch (e) {
    return { ...classifyError(e), ms: performance.now() - t0 };
  }
}
