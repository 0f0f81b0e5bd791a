// Backward-pass benchmark: seconds of lossAndGradients (forward with checkpoints +
// backward with recomputation, lib/backward/gradients.ts) over seconds of the forward
// pass alone (ForwardModel.forward + nll: the same loss), in the same run, on
//   - one Llama-7B-shaped block (hidden 4096, 32 heads of 128, 8 KV heads, MLP 11008,
//     random f32 weights; a 512-token vocabulary so that the block, not the LM head,
//     is what is timed),
//   - the demo model (assets/demo-model) on its evaluation text,
//   - BabyLlama (shared data, skipped when absent) on TinyStories validation text.
//   - with --stats-model DIR (a 7B-shaped model from bench/synthetic-model.ts), peak
//     private memory of `shears stats --gradients` (bench/stats-memory.ts), the
//     accumulators in memory and in scratch pages.
//   node dist/bench/backward.js [--json] [--tokens N] [--reps N] [--quick] [--stats-model DIR]
// --json prints one JSON object on stdout (the table goes to stderr). --quick: one
// repetition. Times are the fastest of the repetitions (the machine is shared).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { lossAndGradients } from '../lib/backward/gradients';
import { loadModel } from '../lib/formats/load';
import { ForwardModel } from '../lib/forward/model';
import { poolThreads } from '../lib/kernels';
import { LoadedModel, ModelConfig, Tensor } from '../lib/model/types';
import { loadTokenizer } from '../lib/tokenizer/load';
import { emitReport, machineInfo, randomF32, table } from './machine';
import { measureStatsMemory } from './stats-memory';

interface Args {
  json: boolean;
  tokens: number;
  reps: number;
  statsModel?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, tokens: 64, reps: 3 };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const int = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${k} needs a positive integer, got ${argv[i]}`);
      return v;
    };
    if (k === '--json') a.json = true;
    else if (k === '--quick') a.reps = 1;
    else if (k === '--tokens') a.tokens = int();
    else if (k === '--reps') a.reps = int();
    else if (k === '--stats-model' && argv[i + 1]) a.statsModel = argv[++i];
    else throw new Error(`unknown argument ${k} (expected --json, --tokens N, --reps N, --quick, --stats-model DIR)`);
  }
  if (a.tokens < 2) throw new Error('--tokens must be at least 2');
  return a;
}

const BLOCK = { hidden: 4096, heads: 32, kvHeads: 8, headDim: 128, intermediate: 11008, vocab: 512 };

export function llama7bBlock(): LoadedModel {
  const { hidden: H, heads, kvHeads, headDim, intermediate: I, vocab: V } = BLOCK;
  const config: ModelConfig = {
    architecture: 'llama',
    family: 'llama',
    hiddenSize: H,
    intermediateSize: I,
    numLayers: 1,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    vocabSize: V,
    contextLength: 4096,
    norm: 'rmsnorm',
    normEps: 1e-5,
    activation: 'silu',
    rope: { layout: 'rotate_half', theta: 10000, dim: headDim },
    positionOffset: 0,
    tiedEmbeddings: false,
    preNorm: true,
  };
  const tensors = new Map<string, Tensor>();
  let seed = 17;
  const add = (name: string, shape: number[], scale: number, fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { name, dtype: 'f32', shape, data: fill === undefined ? randomF32(n, scale, seed++) : new Float32Array(n).fill(fill) });
  };
  add('embed.weight', [V, H], 1);
  add('blocks.0.attn_norm.weight', [H], 0, 1);
  add('blocks.0.attn.q.weight', [heads * headDim, H], 1 / Math.sqrt(H));
  add('blocks.0.attn.k.weight', [kvHeads * headDim, H], 1 / Math.sqrt(H));
  add('blocks.0.attn.v.weight', [kvHeads * headDim, H], 1 / Math.sqrt(H));
  add('blocks.0.attn.o.weight', [H, heads * headDim], 1 / Math.sqrt(H));
  add('blocks.0.mlp_norm.weight', [H], 0, 1);
  add('blocks.0.mlp.gate.weight', [I, H], 1 / Math.sqrt(H));
  add('blocks.0.mlp.up.weight', [I, H], 1 / Math.sqrt(H));
  add('blocks.0.mlp.down.weight', [H, I], 1 / Math.sqrt(I));
  add('final_norm.weight', [H], 0, 1);
  add('lm_head.weight', [V, H], 1 / Math.sqrt(H));
  return { format: 'hf', path: 'synthetic llama-7b block', config, tensors, tokenizer: { kind: 'none' }, meta: {}, close: () => undefined } as unknown as LoadedModel;
}

/** Fastest wall-clock seconds of the repetitions, and the fewest CPU seconds (all threads; steadier on a shared machine). */
async function fastest(reps: number, fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < reps; ++r) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

interface CaseResult {
  model: string;
  batch: number;
  seq: number;
  parameters: number;
  forwardSeconds: number;
  forwardBackwardSeconds: number;
  /** forwardBackwardSeconds / forwardSeconds (target <= 3). */
  ratio: number;
  /** The same with the gradient buffers of the previous call reused (`into`), as a training loop runs. */
  reusedSeconds: number;
  reusedRatio: number;
  reusedCpuRatio: number;
  forwardCpuSeconds: number;
  forwardBackwardCpuSeconds: number;
  cpuRatio: number;
  loss: number;
}

async function benchCase(name: string, model: LoadedModel, ids: number[], batch: number, seq: number, reps: number): Promise<CaseResult> {
  const fm = new ForwardModel(model);
  const tokens = ids.slice(0, batch * seq);
  const targets = tokens.map((_, i) => (i % seq === seq - 1 ? -1 : tokens[i + 1]));
  const forward = async () => (await fm.nll(await fm.forward(tokens, batch, seq), targets)).mean;
  let loss = NaN;
  // Warm-up of both (page faults of the mapping, thread pool start), untimed.
  await forward();
  await lossAndGradients(model, tokens, { batch, seq });
  const f = await fastest(reps, forward);
  // Fresh gradient buffers each call (first touch of 4 bytes a weight in page faults),
  // then the previous call's buffers reused, as a training loop runs.
  const fb = await fastest(reps, async () => {
    loss = (await lossAndGradients(model, tokens, { batch, seq })).loss;
  });
  const into = (await lossAndGradients(model, tokens, { batch, seq })).grads;
  const reused = await fastest(reps, async () => {
    await lossAndGradients(model, tokens, { batch, seq, into });
  });
  let parameters = 0;
  for (const t of model.tensors.values()) parameters += t.data.length;
  return {
    model: name,
    batch,
    seq,
    parameters,
    forwardSeconds: f.wall,
    forwardBackwardSeconds: fb.wall,
    ratio: fb.wall / f.wall,
    reusedSeconds: reused.wall,
    reusedRatio: reused.wall / f.wall,
    reusedCpuRatio: reused.cpu / f.cpu,
    forwardCpuSeconds: f.cpu,
    forwardBackwardCpuSeconds: fb.cpu,
    cpuRatio: fb.cpu / f.cpu,
    loss,
  };
}

async function textIds(model: LoadedModel, file: string, n: number): Promise<number[]> {
  const tok = await loadTokenizer(model.tokenizer, { vocabSize: model.config.vocabSize });
  const ids = tok.encode(fs.readFileSync(file, 'utf8').slice(0, 200000), { bos: true });
  if (ids.length < n) throw new Error(`${file}: ${ids.length} tokens, ${n} needed`);
  return ids.slice(0, n);
}

async function realModel(name: string, file: string, text: string, batch: number, seq: number, reps: number): Promise<CaseResult | { model: string; skipped: string }> {
  if (!fs.existsSync(file) || !fs.existsSync(text)) return { model: name, skipped: `not found: ${fs.existsSync(file) ? text : file}` };
  const model = await loadModel(file);
  try {
    const s = Math.min(seq, model.config.contextLength);
    return await benchCase(name, model, await textIds(model, text, batch * s), batch, s, reps);
  } finally {
    model.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // The package root: dist/bench/.. /.. (or the working directory when run from elsewhere).
  const up = path.resolve(__dirname, '..', '..');
  const root = fs.existsSync(path.join(up, 'package.json')) ? up : process.cwd();
  const shared = path.resolve(root, '..', 'shared', 'data');
  const block = llama7bBlock();
  const blockIds = Array.from({ length: args.tokens }, (_, i) => (i * 7919 + 13) % BLOCK.vocab);
  const results = [
    await benchCase('llama-7b-block', block, blockIds, 1, args.tokens, args.reps),
    await realModel('demo-model', path.join(root, 'assets', 'demo-model'), path.join(root, 'assets', 'demo-model', 'eval.txt'), 4, 128, args.reps),
    await realModel(
      'babyllama-tok105',
      path.join(shared, 'models', 'babyllama-tok105', 'model5000.bin'),
      path.join(shared, 'text', 'tinystories', 'tinystories_val.txt'),
      4,
      256,
      args.reps,
    ),
  ];
  const statsMemory = args.statsModel ? await measureStatsMemory(args.statsModel, { samples: 2, seqLen: 32 }) : undefined;
  const report = { bench: 'backward', block: BLOCK, machine: machineInfo(), threads: poolThreads(), repetitions: args.reps, results, ...(statsMemory ? { stats_memory: statsMemory } : {}) };
  const rows = results.map((r) =>
    'skipped' in r
      ? [r.model, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `skipped: ${r.skipped}`]
      : [
          r.model,
          `${r.batch}x${r.seq}`,
          String(r.parameters),
          r.forwardSeconds.toFixed(3),
          r.forwardBackwardSeconds.toFixed(3),
          r.ratio.toFixed(2),
          r.reusedSeconds.toFixed(3),
          r.reusedRatio.toFixed(2),
          r.forwardCpuSeconds.toFixed(3),
          r.forwardBackwardCpuSeconds.toFixed(3),
          r.cpuRatio.toFixed(2),
          r.reusedCpuRatio.toFixed(2),
          r.loss.toFixed(4),
        ],
  );
  const text = `loss and gradients vs forward pass (${report.threads} threads, fastest of ${args.reps}, load average ${String(
    (report.machine as { load_average_1m: number }).load_average_1m.toFixed(1),
  )})\n${table(['model', 'batch x seq', 'parameters', 'forward s', 'fwd+bwd s', 'ratio', 'fwd+bwd s, buffers reused', 'ratio, reused', 'fwd cpu s', 'fwd+bwd cpu s', 'cpu ratio', 'cpu ratio, reused', 'loss'], rows)}`;
  const memory = statsMemory
    ? `\n\nshears stats --gradients on ${statsMemory.model.path} (${statsMemory.model.blocks} blocks, accumulators ${statsMemory.model.accumulator_mib} MiB, ${statsMemory.calibration.samples} x ${statsMemory.calibration.seq_len} tokens)\n${table(
        ['accumulators', 'seconds', 'peak RssAnon MiB', 'peak RssFile MiB', 'VmHWM MiB'],
        statsMemory.runs.map((r) => [r.budget, r.seconds.toFixed(1), String(r.peak_rss_anon_mib), String(r.peak_rss_file_mib), String(r.vm_hwm_mib)]),
      )}`
    : '';
  emitReport(args.json, text + memory, report);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bench:backward: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
