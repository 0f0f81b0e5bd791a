// Optional cross-check (not part of the test suite): llama.cpp loads the GGUF files shears
// writes for structurally smaller models, and gives the same perplexity as shears on the
// same token ids. Models are cut by hand from the demo model (first KV groups / MLP
// channels kept, test/formats/gguf-structured-fixtures.ts) and a random tiny GPT-2:
//   dense demo -> llama; uniform narrower -> llama; per-block widths -> deci; a block
//   without attention (block 0: zero stand-in; block 3: llama.cpp's own n_head = 0) and
//   one without MLP (zero stand-in) -> deci; a random Qwen2 (q/k/v biases) as qwen2,
//   with fewer heads as llama, per-block as deci; GPT-2, and with fewer MLP channels -> gpt2;
//   o-projection and down-projection biases (as bias compensation adds) in llama and deci;
//   stories260K (GGUF) from ../shared/data when present, dense and cut; and the demo model
//   pruned by shears itself (flap and wanda-sp widths, block-influence layers), f32.
// For each: shears' mean NLL of the next-token predictions (its forward pass on the file
// read back) and llama.cpp's, teacher-forced one token at a time (F32 KV cache, flash
// attention off: its CPU kernel rounds to f16, about 2e-3 nats per token on these models), and the
// NLL of the last token after the rest as one batch (llama.cpp's output-row selection).
//
// node-llama-cpp (about 730 MB of prebuilt llama.cpp binaries) lives in a throwaway folder:
//   mkdir /tmp/nlc && cd /tmp/nlc && npm init -y && npm install node-llama-cpp@3.21.1
//   cd <shears> && node -r ./scripts/fuzz/ts-hook.js scripts/crosscheck-structured-gguf.ts /tmp/nlc [--tokens 128]
// Prints one JSON object per model, then a markdown table; exits 1 when an engine
// disagrees by more than 1e-4 relative (or a file does not load).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ForwardModel } from '../lib/forward/model';
import { loadModel } from '../lib/formats/load';
import { writeGGUF } from '../lib/formats/write-gguf';
import { prune } from '../lib/prune/run';
import { BlockShape, LoadedModel, TokenizerArtifacts } from '../lib/model/types';
import { loadTokenizer, tokenizerArtifacts } from '../lib/tokenizer';
import { skipTokenizerProbe } from '../bench/structured-engines';
import { sliceModel, writeTinyGPT2, writeTinyQwen2 } from '../test/formats/gguf-structured-fixtures';

const ROOT = path.resolve(__dirname, '..');
const TOLERANCE = 1e-4;

interface Case {
  name: string;
  /** A model to write, or a GGUF file written already (by prune). */
  model: LoadedModel | string;
  ids: number[];
  tokenizer?: TokenizerArtifacts;
}

/** shears: per-position NLL of ids[1..] (mean) and of the last token, from the file as read back. */
async function shearsNll(file: string, ids: number[]): Promise<{ mean: number; last: number; arch: string; params: number }> {
  const m = await loadModel(file);
  try {
    const fm = new ForwardModel(m, { backend: 'cpu' });
    const hidden = await fm.forward(ids, 1, ids.length);
    const r = await fm.nll(hidden, [...ids.slice(1), -1]);
    let params = 0;
    for (const t of m.tensors.values()) params += t.data.length;
    return { mean: r.mean, last: r.nll[ids.length - 2], arch: String(m.meta.ggufArchitecture), params };
  } finally {
    m.close();
  }
}

// node-llama-cpp is ESM only: import() it without TypeScript turning it into require().
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<Record<string, unknown>>;

/** llama.cpp: the same two numbers. */
async function llamaCppNll(nlc: Record<string, unknown>, llama: unknown, file: string, ids: number[]): Promise<{ mean: number; last: number }> {
  void nlc;
  const l = llama as { loadModel(o: object): Promise<{ createContext(o: object): Promise<Ctx>; dispose(): Promise<void> }> };
  type Seq = { evaluateWithMetadata(t: number[], m: object, o: object): AsyncGenerator<{ probabilities: Map<number, number> }, void, number> };
  type Ctx = { getSequence(): Seq; dispose(): Promise<void> };
  const model = await l.loadModel({ modelPath: file });
  const ctxOpts = { contextSize: 512, threads: 1, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false };
  try {
    let ctx = await model.createContext(ctxOpts);
    let it = ctx.getSequence().evaluateWithMetadata([ids[0]], { probabilities: true }, { temperature: 0, yieldEogToken: true });
    let res = await it.next();
    let nll = 0;
    for (let i = 1; i < ids.length; i++) {
      if (res.done) throw new Error('evaluation ended early');
      nll -= Math.log(res.value.probabilities.get(ids[i]) ?? 0);
      if (i + 1 < ids.length) res = await it.next(ids[i]);
    }
    await it.return();
    await ctx.dispose();
    ctx = await model.createContext(ctxOpts);
    it = ctx.getSequence().evaluateWithMetadata(ids.slice(0, -1), { probabilities: true }, { temperature: 0, yieldEogToken: true });
    res = await it.next();
    if (res.done) throw new Error('batched evaluation gave nothing');
    const last = -Math.log(res.value.probabilities.get(ids[ids.length - 1]) ?? 0);
    await it.return();
    await ctx.dispose();
    return { mean: nll / (ids.length - 1), last };
  } finally {
    await model.dispose();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const nlcDir = args.find((a) => !a.startsWith('--'));
  const nTokens = Number(args[args.indexOf('--tokens') + 1] ?? 128) || 128;
  if (!nlcDir) {
    console.error('usage: node -r ./scripts/fuzz/ts-hook.js scripts/crosscheck-structured-gguf.ts NLC_DIR [--tokens N]');
    process.exit(2);
  }
  const nlc = await importEsm(path.join(path.resolve(nlcDir), 'node_modules', 'node-llama-cpp', 'dist', 'index.js'));
  skipTokenizerProbe(nlc);
  const llama = await (nlc.getLlama as (o: object) => Promise<unknown>)({ gpu: false, build: 'never' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-crosscheck-'));
  const demo = await loadModel(path.join(ROOT, 'assets', 'demo-model'));
  const tok = await loadTokenizer(demo.tokenizer);
  const text = fs.readFileSync(path.join(ROOT, 'assets', 'demo-model', 'eval.txt'), 'utf8');
  const demoIds = tok.encode(text, { bos: true }).slice(0, nTokens);
  const uniform = (heads: number, kv: number, ff: number): BlockShape[] => Array.from({ length: 4 }, () => ({ numHeads: heads, numKvHeads: kv, intermediateSize: ff }));
  const perBlock: BlockShape[] = [
    { numHeads: 0, numKvHeads: 0, intermediateSize: 256 },
    { numHeads: 4, numKvHeads: 2, intermediateSize: 0 },
    { numHeads: 2, numKvHeads: 1, intermediateSize: 512 },
    { numHeads: 0, numKvHeads: 0, intermediateSize: 384 },
  ];
  const varied: BlockShape[] = [
    { numHeads: 4, numKvHeads: 2, intermediateSize: 512 },
    { numHeads: 2, numKvHeads: 1, intermediateSize: 256 },
    { numHeads: 4, numKvHeads: 2, intermediateSize: 384 },
    { numHeads: 2, numKvHeads: 1, intermediateSize: 128 },
  ];
  // GPT-2 with the demo model's vocabulary (llama.cpp needs a complete one) and text.
  const gpt2 = await loadModel(writeTinyGPT2(path.join(work, 'gpt2'), { hidden: 32, heads: 4, ff: 48, vocab: demo.config.vocabSize, positions: 256, layers: 2 }));
  const gptIds = demoIds;
  const qwen = await loadModel(writeTinyQwen2(path.join(work, 'qwen2'), { hidden: 64, heads: 4, kvHeads: 2, inter: 96, layers: 3, vocab: demo.config.vocabSize, qkvBias: true }));
  const qwenVaried: BlockShape[] = [
    { numHeads: 4, numKvHeads: 2, intermediateSize: 48 },
    { numHeads: 2, numKvHeads: 1, intermediateSize: 0 },
    { numHeads: 0, numKvHeads: 0, intermediateSize: 96 },
  ];
  const gptTok = await tokenizerArtifacts(demo.tokenizer, { vocabSize: demo.config.vocabSize });
  const cases: Case[] = [
    { name: 'demo dense (llama)', model: demo, ids: demoIds },
    { name: 'demo uniform heads 2/1, MLP 320 (llama)', model: sliceModel(demo, uniform(2, 1, 320)), ids: demoIds },
    { name: 'demo per-block widths (deci)', model: sliceModel(demo, varied), ids: demoIds },
    {
      name: 'demo per-block widths, query heads per KV head 2, 1, 4, 1 (deci)',
      model: sliceModel(demo, [
        { numHeads: 4, numKvHeads: 2, intermediateSize: 512 },
        { numHeads: 2, numKvHeads: 2, intermediateSize: 256 },
        { numHeads: 4, numKvHeads: 1, intermediateSize: 384 },
        { numHeads: 1, numKvHeads: 1, intermediateSize: 128 },
      ]),
      ids: demoIds,
    },
    { name: 'demo removed attention (blocks 0, 3) and MLP (block 1) (deci)', model: sliceModel(demo, perBlock), ids: demoIds },
    { name: 'qwen2 tiny (qwen2)', model: qwen, ids: demoIds, tokenizer: gptTok },
    { name: 'qwen2 tiny, heads 2/1 (llama: q/k/v biases permuted)', model: sliceModel(qwen, [0, 1, 2].map(() => ({ numHeads: 2, numKvHeads: 1, intermediateSize: 96 }))), ids: demoIds, tokenizer: gptTok },
    { name: 'qwen2 tiny, per-block widths, removed MLP and attention (deci)', model: sliceModel(qwen, qwenVaried), ids: demoIds, tokenizer: gptTok },
    { name: 'gpt2 tiny (gpt2)', model: gpt2, ids: gptIds, tokenizer: gptTok },
    { name: 'gpt2 tiny, MLP 24 of 48 (gpt2)', model: sliceModel(gpt2, [0, 1].map(() => ({ numHeads: 4, numKvHeads: 4, intermediateSize: 24 }))), ids: gptIds, tokenizer: gptTok },
  ];
  // As bias compensation leaves them: an o-projection and a down-projection bias.
  const withBiases = (m: LoadedModel): LoadedModel => {
    const h = m.config.hiddenSize;
    for (const name of ['blocks.1.attn.o.bias', 'blocks.2.mlp.down.bias'])
      m.tensors.set(name, { name, dtype: 'f32', shape: [h], data: Float32Array.from({ length: h }, (_, i) => ((i % 13) - 6) / 40) });
    return m;
  };
  cases.splice(
    5,
    0,
    { name: 'demo uniform heads 2/1, MLP 320, o and down biases (llama)', model: withBiases(sliceModel(demo, uniform(2, 1, 320))), ids: demoIds },
    { name: 'demo per-block widths, o and down biases (deci)', model: withBiases(sliceModel(demo, varied)), ids: demoIds },
  );
  // A real small model beside the checkout (../shared/data), when present: stories260K, a
  // GGUF source, cut to per-block widths. (BabyLlama is left out: its 105-token vocabulary
  // has no byte tokens, and llama.cpp aborts on it while node-llama-cpp loads the model,
  // with std::out_of_range from byte_to_token; the dense model does the same.)
  const shared = path.join(ROOT, '..', 'shared', 'data', 'models');
  const realModels: [string, string, { tokenizer?: string }][] = [['stories260K', path.join(shared, 'stories260K', 'stories260K.gguf'), {}]];
  const opened: LoadedModel[] = [];
  for (const [label, file, opts] of realModels) {
    if (!fs.existsSync(file)) continue;
    const m = await loadModel(file, opts);
    opened.push(m);
    const c = m.config;
    const ratio = c.numHeads / c.numKvHeads;
    const kvs = (i: number) => Math.max(1, Math.round((c.numKvHeads * (i + 1)) / c.numLayers));
    const shapes = Array.from({ length: c.numLayers }, (_, i) => ({
      numHeads: i === 1 ? 0 : kvs(i) * ratio,
      numKvHeads: i === 1 ? 0 : kvs(i),
      intermediateSize: i === c.numLayers - 2 ? 0 : Math.round((c.intermediateSize * (c.numLayers - i)) / c.numLayers),
    }));
    const ids = (await loadTokenizer(m.tokenizer)).encode(text, { bos: true }).slice(0, Math.min(nTokens, c.contextLength));
    cases.push({ name: `${label} dense`, model: m, ids }, { name: `${label} per-block widths, block 1 without attention, block ${c.numLayers - 2} without MLP`, model: sliceModel(m, shapes), ids });
  }
  // Models pruned by shears itself (lib/prune, structured methods with bias compensation).
  for (const [method, structure, uniform, sparsity] of [
    ['flap', 'width', false, 0.3],
    ['wanda-sp', 'width', true, 0.2],
    ['block-influence', 'layers', false, 0.25],
  ] as const) {
    const out = path.join(work, `pruned-${method}.gguf`);
    await prune({
      model: path.join(ROOT, 'assets', 'demo-model'),
      method,
      structure,
      uniform,
      sparsity,
      calib: path.join(ROOT, 'assets', 'demo-model', 'calib.txt'),
      calibSamples: 16,
      seqLen: 128,
      dtype: 'f32',
      out,
    });
    cases.push({ name: `demo pruned: ${method} --structure ${structure}${uniform ? ' --uniform' : ''} --sparsity ${sparsity}`, model: out, ids: demoIds });
  }
  const rows: string[] = [];
  let failed = false;
  for (const c of cases) {
    const file = path.join(work, `${rows.length}.gguf`);
    // float32 weights: llama.cpp multiplies f16 weights with activations rounded to f16.
    if (typeof c.model === 'string') fs.copyFileSync(c.model, file);
    else await writeGGUF(c.model, file, { dtype: 'f32', ...(c.tokenizer ? { tokenizer: c.tokenizer } : {}) });
    const s = await shearsNll(file, c.ids);
    let l: { mean: number; last: number } | { error: string };
    try {
      l = await llamaCppNll(nlc, llama, file, c.ids);
    } catch (e) {
      l = { error: (e as Error).message };
    }
    const rel = 'mean' in l ? Math.abs(Math.exp(l.mean) - Math.exp(s.mean)) / Math.exp(s.mean) : NaN;
    const relLast = 'last' in l ? Math.abs(l.last - s.last) / Math.abs(s.last) : NaN;
    const ok = rel <= TOLERANCE && relLast <= 10 * TOLERANCE;
    failed ||= !ok;
    const out = { model: c.name, arch: s.arch, parameters: s.params, tokens: c.ids.length, shears_ppl: Math.exp(s.mean), ...('mean' in l ? { llama_cpp_ppl: Math.exp(l.mean), rel_diff: rel, shears_last_nll: s.last, llama_cpp_last_nll_batched: l.last, rel_diff_last: relLast } : l) };
    console.log(JSON.stringify(out));
    rows.push(
      `| ${c.name} | ${s.arch} | ${s.params} | ${Math.exp(s.mean).toFixed(6)} | ${'mean' in l ? Math.exp(l.mean).toFixed(6) : 'error'} | ${rel.toExponential(2)} | ${relLast.toExponential(2)} | ${ok ? 'yes' : 'NO'} |`,
    );
  }
  console.log('\n| model | GGUF arch | parameters | shears ppl | llama.cpp ppl | rel. diff | rel. diff last token (batched) | agree |\n|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
  demo.close();
  gpt2.close();
  qwen.close();
  for (const m of opened) m.close();
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
