// Forward-pass benchmark: one synthetic Llama-7B-shaped block (hidden 4096, MLP 11008,
// 32 heads, no GQA) over T tokens with f32 and f16 weights, next to the GFLOP/s of its
// seven matmuls alone on the same shapes, measured in the same run.
//   node dist/bench/forward.js [--json] [--tokens N] [--quick] [--dtypes f32,f16]
// --json prints one JSON object on stdout (the table goes to stderr); without it the
// table goes to stdout. --quick: 64 tokens, one repetition (a smoke run on a busy machine).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadModel } from '../lib/formats/load';
import { loadTokenizer } from '../lib/tokenizer/load';
import { convertDType } from '../lib/kernels';
import { ForwardModel, ForwardSource, matmul, matmulIsa } from '../lib/forward';
import { perplexity } from '../lib/eval/perplexity';
import { poolThreads } from '../lib/kernels';
import { ModelConfig, Tensor, TensorDType } from '../lib/model/types';
import { machineInfo, randomF32, table } from './machine';

interface Args {
  json: boolean;
  tokens: number;
  reps: number;
  dtypes: TensorDType[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, tokens: 2048, reps: 2, dtypes: ['f32', 'f16'] };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    if (k === '--json') a.json = true;
    else if (k === '--quick') {
      a.tokens = 64;
      a.reps = 1;
    } else if (k === '--tokens') {
      a.tokens = Number(argv[++i]);
      if (!Number.isInteger(a.tokens) || a.tokens < 1) throw new Error(`--tokens needs a positive integer, got ${argv[i]}`);
    } else if (k === '--dtypes') {
      a.dtypes = (argv[++i] ?? '').split(',') as TensorDType[];
      for (const d of a.dtypes) if (!['f32', 'f16', 'bf16'].includes(d)) throw new Error(`--dtypes: unknown dtype ${d}`);
    } else throw new Error(`unknown argument ${k} (expected --json, --tokens N, --quick, --dtypes f32,f16)`);
  }
  return a;
}

const SHAPE = { hidden: 4096, intermediate: 11008, heads: 32 };

function llama7bConfig(): ModelConfig {
  return {
    architecture: 'llama',
    family: 'llama',
    hiddenSize: SHAPE.hidden,
    intermediateSize: SHAPE.intermediate,
    numLayers: 1,
    numHeads: SHAPE.heads,
    numKvHeads: SHAPE.heads,
    headDim: SHAPE.hidden / SHAPE.heads,
    vocabSize: 32000,
    contextLength: 4096,
    norm: 'rmsnorm',
    normEps: 1e-5,
    activation: 'silu',
    rope: { layout: 'rotate_half', theta: 10000, dim: SHAPE.hidden / SHAPE.heads },
    positionOffset: 0,
    tiedEmbeddings: false,
    preNorm: true,
  };
}

const LINEARS: [string, number, number][] = [
  ['attn.q', SHAPE.hidden, SHAPE.hidden],
  ['attn.k', SHAPE.hidden, SHAPE.hidden],
  ['attn.v', SHAPE.hidden, SHAPE.hidden],
  ['attn.o', SHAPE.hidden, SHAPE.hidden],
  ['mlp.gate', SHAPE.intermediate, SHAPE.hidden],
  ['mlp.up', SHAPE.intermediate, SHAPE.hidden],
  ['mlp.down', SHAPE.hidden, SHAPE.intermediate],
];

function f32Block(): Map<string, Tensor> {
  const t = new Map<string, Tensor>();
  LINEARS.forEach(([name, out, inp], i) => {
    const n = `blocks.0.${name}.weight`;
    t.set(n, { name: n, dtype: 'f32', shape: [out, inp], data: randomF32(out * inp, 1 / Math.sqrt(inp), 17 + i) });
  });
  for (const n of ['blocks.0.attn_norm.weight', 'blocks.0.mlp_norm.weight'])
    t.set(n, { name: n, dtype: 'f32', shape: [SHAPE.hidden], data: new Float32Array(SHAPE.hidden).fill(1) });
  return t;
}

async function asDType(t: Map<string, Tensor>, dtype: TensorDType): Promise<Map<string, Tensor>> {
  if (dtype === 'f32') return t;
  const out = new Map<string, Tensor>();
  for (const [name, v] of t) {
    const data = v.shape.length === 2 ? await convertDType(v.data, 'f32', dtype) : v.data;
    out.set(name, { ...v, dtype: v.shape.length === 2 ? dtype : 'f32', data });
  }
  return out;
}

async function seconds(fn: () => Promise<unknown>, reps: number): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < reps; ++r) {
    const t0 = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

interface DTypeResult {
  dtype: TensorDType;
  tokens: number;
  blockSeconds: number;
  tokensPerSecond: number;
  /** Linear layers: 2 * T * params; attention: 2 * T^2 * hidden (causal half of QK^T and PV). */
  linearGflop: number;
  attentionGflop: number;
  blockGflops: number;
  matmulSeconds: number;
  matmulGflops: number;
}

async function benchDType(tensors: Map<string, Tensor>, dtype: TensorDType, T: number, reps: number): Promise<DTypeResult> {
  const model = new ForwardModel({ config: llama7bConfig(), tensors });
  const hidden0 = randomF32(T * SHAPE.hidden, 1, 99);
  const hidden = new Float32Array(T * SHAPE.hidden);
  const blockSeconds = await seconds(async () => {
    hidden.set(hidden0);
    await model.runBlock(0, hidden, { batch: 1, seq: T });
  }, reps);

  // The same seven matmuls alone: inputs of the right width, outputs preallocated.
  const xs = new Map<number, Float32Array>([
    [SHAPE.hidden, randomF32(T * SHAPE.hidden, 1, 5)],
    [SHAPE.intermediate, randomF32(T * SHAPE.intermediate, 1, 6)],
  ]);
  const outs = new Map<number, Float32Array>([
    [SHAPE.hidden, new Float32Array(T * SHAPE.hidden)],
    [SHAPE.intermediate, new Float32Array(T * SHAPE.intermediate)],
  ]);
  let matmulSeconds = 0;
  for (const [name, out, inp] of LINEARS) {
    const w = tensors.get(`blocks.0.${name}.weight`)!;
    const m = { data: w.data, dtype: w.dtype, rows: out, cols: inp };
    matmulSeconds += await seconds(() => matmul(xs.get(inp)!, m, { out: outs.get(out)! }), reps);
  }
  const params = LINEARS.reduce((s, [, o, i]) => s + o * i, 0);
  const linearGflop = (2 * T * params) / 1e9;
  const attentionGflop = (2 * T * T * SHAPE.hidden) / 1e9;
  return {
    dtype,
    tokens: T,
    blockSeconds,
    tokensPerSecond: T / blockSeconds,
    linearGflop,
    attentionGflop,
    blockGflops: (linearGflop + attentionGflop) / blockSeconds,
    matmulSeconds,
    matmulGflops: linearGflop / matmulSeconds,
  };
}

// REAL MODEL: BabyLlama (../shared/data/models/babyllama-tok105/model5000.bin, when
// ../shared is present) over the start of the TinyStories validation text: perplexity
// windows of 256 tokens, timed, with the achieved GFLOP/s (matmuls + attention).
export async function benchRealModel(source: ForwardSource, ids: Int32Array, seqLen = 256) {
  const model = new ForwardModel(source);
  const r = await perplexity(model, ids, { seqLen });
  const c = source.config;
  // FLOPs per token: 2 per weight of every block matrix and of the LM head, plus causal
  // attention (q.k and p.v over on average half the window).
  let linear = c.vocabSize * c.hiddenSize;
  for (const [name, t] of source.tensors) if (/^blocks\.\d+\.(attn|mlp)\..*\.weight$/.test(name)) linear += t.shape[0] * t.shape[1];
  const attention = c.numLayers * 2 * 2 * (seqLen / 2) * c.numHeads * c.headDim;
  const gflop = (r.tokens * (2 * linear + attention)) / 1e9;
  return {
    family: source.config.family,
    tokens: r.tokens,
    seqLen,
    perplexity: r.perplexity,
    seconds: r.seconds,
    tokensPerSecond: r.tokens / r.seconds,
    gflops: gflop / r.seconds,
  };
}

async function babyLlama() {
  const root = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
  const file = path.join(root, 'models', 'babyllama-tok105', 'model5000.bin');
  const text = path.join(root, 'text', 'tinystories', 'tinystories_val.txt');
  if (!fs.existsSync(file) || !fs.existsSync(text)) return { skipped: `BabyLlama not found at ${file}` };
  const loaded = await loadModel(file);
  try {
    const tok = await loadTokenizer(loaded.tokenizer, { vocabSize: loaded.config.vocabSize });
    const ids = Int32Array.from(tok.encode(fs.readFileSync(text, 'utf8').slice(0, 40000), { bos: true })).subarray(0, 32 * 256);
    return { model: 'babyllama-tok105', ...(await benchRealModel(loaded, ids)) };
  } finally {
    loaded.close();
  }
}

function resultsTable(rows: DTypeResult[]): string {
  return table(
    ['dtype', 'tokens', 'block s', 'tokens/s', 'block GFLOP/s', 'matmul s', 'matmul GFLOP/s'],
    rows.map((r) => [
      r.dtype,
      String(r.tokens),
      r.blockSeconds.toFixed(3),
      r.tokensPerSecond.toFixed(1),
      r.blockGflops.toFixed(1),
      r.matmulSeconds.toFixed(3),
      r.matmulGflops.toFixed(1),
    ]),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const f32 = f32Block();
  const results: DTypeResult[] = [];
  for (const dtype of args.dtypes) {
    const t = await asDType(f32, dtype);
    results.push(await benchDType(t, dtype, args.tokens, args.reps));
  }
  const realModel = await babyLlama();
  const report = {
    bench: 'forward',
    shape: { ...SHAPE, headDim: SHAPE.hidden / SHAPE.heads },
    machine: machineInfo(),
    threads: poolThreads(),
    matmulIsa: matmulIsa().active,
    repetitions: args.reps,
    results,
    realModel,
  };
  const rm = realModel as { model?: string; tokens?: number; tokensPerSecond?: number; gflops?: number; perplexity?: number; skipped?: string };
  const realLine = rm.skipped
    ? `real model: ${rm.skipped}`
    : `real model ${rm.model}: ${rm.tokens} tokens, ${rm.tokensPerSecond!.toFixed(0)} tokens/s, ${rm.gflops!.toFixed(2)} GFLOP/s, perplexity ${rm.perplexity!.toFixed(4)}`;
  const text = `forward pass, one Llama-7B-shaped block (${args.tokens} tokens, ${report.threads} threads, ${report.matmulIsa} matmul)\n${resultsTable(results)}\n${realLine}`;
  if (args.json) {
    process.stderr.write(text + '\n');
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(text + '\n');
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bench:forward: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
