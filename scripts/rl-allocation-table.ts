// rl-allocation against uniform and OWL allocation (issue 13): on the demo model and
// stories260K, at each level, wanda with one sparsity for every block (uniform), owl
// (when its plugin is implemented; else a row that says so) and rl-allocation (--base
// wanda), all calibrated on the same windows of C4 (32 windows of 128 tokens, seed 0),
// each measured the same way:
//   held-out perplexity  windows of 128 tokens of held-out text (demo: its eval.txt;
//                        stories260K: the start of tinystories_val.txt), at most 16
//   held-out KL / top-1  mean KL(dense || pruned) and top-1 agreement over every position
//                        of those windows
//   calibration KL       the same over the 32 calibration windows
//   achieved             weights pruned / weights of the selected matrices (rows round down)
//   seconds              the prune's total time
//   node -r ./scripts/fuzz/ts-hook.js scripts/rl-allocation-table.ts [--models demo,stories260K]
//     [--levels 0.5,0.7] [--methods wanda,owl,rl-allocation] [--episodes 24] [--out FILE.md]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { windowsFromStream, CalibrationSet } from '../lib/calibration/sample';
import { readEvalText } from '../lib/eval/text';
import { perplexity } from '../lib/eval/perplexity';
import { loadModel } from '../lib/formats/load';
import { ForwardModel } from '../lib/forward/model';
import { METHODS } from '../lib/methods/registry';
import type { LoadedModel } from '../lib/model/types';
import { drawCalibration } from '../lib/prune/calibrate';
import { prune, PruneOptions } from '../lib/prune/run';
import { DenseReference, queryQuality } from '../lib/sweep/quality';
import { loadTokenizer } from '../lib/tokenizer';
import { windowsOf } from '../lib/allocation/windows';

const ROOT = path.resolve(__dirname, '..');
const SHARED = path.resolve(ROOT, '..', 'shared', 'data');
const C4 = path.join(SHARED, 'text', 'c4', 'c4-en-train.00000-of-01024.head1000.jsonl');
const SEQ_LEN = 128;
const CALIB_WINDOWS = 32;
const HELD_OUT_WINDOWS = 16;
/** Characters of tinystories_val.txt read as held-out text (enough for 16 windows). */
const STORIES_CHARS = 60_000;
const MODELS: Record<string, { file: string; heldOut: string; chars?: number }> = {
  demo: { file: path.join(ROOT, 'assets', 'demo-model'), heldOut: path.join(ROOT, 'assets', 'demo-model', 'eval.txt') },
  stories260K: { file: path.join(SHARED, 'models', 'stories260K', 'stories260K.bin'), heldOut: path.join(SHARED, 'text', 'tinystories', 'tinystories_val.txt'), chars: STORIES_CHARS },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

interface Row {
  model: string;
  level: number;
  method: string;
  ppl?: number;
  heldOutKl?: number;
  top1?: number;
  calibKl?: number;
  /** Weights pruned / selected weights (the report's achieved_sparsity). */
  achieved?: number;
  seconds?: number;
  note: string;
}

interface AllocationReport {
  block_sparsity: number[];
  uniform?: { kl: number };
  chosen?: { from: string; kl: number };
  learning_curve?: { kl: number }[];
  policy_mean?: { kl: number };
}

/** The blocks' sparsities; for rl-allocation, what it chose and how its episodes' KL moved (first third against last third). */
function allocationNote(a: AllocationReport | undefined): string {
  if (!a) return '';
  let note = `blocks ${a.block_sparsity.map((s) => s.toFixed(3)).join(' ')}`;
  if (a.chosen && a.uniform && a.learning_curve && a.policy_mean) {
    const third = Math.max(1, Math.floor(a.learning_curve.length / 3));
    const mean = (xs: { kl: number }[]) => xs.reduce((t, x) => t + x.kl, 0) / xs.length;
    note += `; episode KL: uniform ${a.uniform.kl.toFixed(5)}, first ${third} episodes ${mean(a.learning_curve.slice(0, third)).toFixed(5)}, last ${third} ${mean(a.learning_curve.slice(-third)).toFixed(5)}, policy mean ${a.policy_mean.kl.toFixed(5)}; chosen: ${a.chosen.from} (${a.chosen.kl.toFixed(5)})`;
  }
  return note;
}

/** KL, top-1 of `pruned` against the dense reference over the windows. */
async function windowsKl(pruned: LoadedModel, dense: DenseReference, windows: Int32Array[]) {
  return queryQuality(new ForwardModel(pruned), dense, windows);
}

async function measureModel(name: string, levels: number[], methods: string[], episodes: number, tmp: string): Promise<Row[]> {
  const spec = MODELS[name];
  const dense = await loadModel(spec.file);
  const rows: Row[] = [];
  try {
    const tok = await loadTokenizer(dense.tokenizer, { vocabSize: dense.config.vocabSize });
    const text = readEvalText(spec.heldOut);
    const ids = Int32Array.from(tok.encode(spec.chars ? text.slice(0, spec.chars) : text, { bos: true }));
    const heldOut: CalibrationSet = windowsFromStream(ids, { samples: HELD_OUT_WINDOWS, seqLen: SEQ_LEN, sampling: 'contiguous', seed: 0 }, spec.heldOut);
    const calib = (await drawCalibration(dense, { calib: C4, calibSamples: CALIB_WINDOWS, seqLen: SEQ_LEN, seed: 0 })).set;
    const fm = new ForwardModel(dense);
    const heldRef = await DenseReference.create(fm, windowsOf(heldOut));
    const calibRef = await DenseReference.create(fm, windowsOf(calib));
    const densePpl = (await perplexity(fm, heldOut.tokens, { seqLen: SEQ_LEN, maxWindows: HELD_OUT_WINDOWS })).perplexity;
    rows.push({ model: name, level: 0, method: 'dense', ppl: densePpl, heldOutKl: 0, top1: 1, calibKl: 0, note: '' });
    const owl = METHODS.find((m) => m.name === 'owl');
    for (const level of levels) {
      for (const method of methods) {
        if (method === 'owl' && !owl?.implemented) {
          rows.push({ model: name, level, method, note: 'owl plugin not implemented in this tree' });
          continue;
        }
        const out = path.join(tmp, `${name}-${method}-${level}`);
        const o: PruneOptions = { model: spec.file, method, sparsity: level, calib: C4, calibSamples: CALIB_WINDOWS, seqLen: SEQ_LEN, seed: 0, out };
        if (method === 'rl-allocation') o.episodes = episodes;
        try {
          const report = await prune(o);
          const pruned = await loadModel(out);
          try {
            const held = await windowsKl(pruned, heldRef, windowsOf(heldOut));
            const cal = await windowsKl(pruned, calibRef, windowsOf(calib));
            const ppl = (await perplexity(new ForwardModel(pruned), heldOut.tokens, { seqLen: SEQ_LEN, maxWindows: HELD_OUT_WINDOWS })).perplexity;
            const note = allocationNote(report.allocation as AllocationReport | undefined);
            rows.push({ model: name, level, method, ppl, heldOutKl: held.kl, top1: held.top1Agreement, calibKl: cal.kl, achieved: report.achieved_sparsity, seconds: report.timings.total, note });
          } finally {
            pruned.close();
          }
        } catch (e) {
          rows.push({ model: name, level, method, note: `failed: ${(e as Error).message}` });
        } finally {
          fs.rmSync(out, { recursive: true, force: true });
        }
        process.stderr.write(`${name} ${level} ${method} done\n`);
      }
    }
  } finally {
    dense.close();
  }
  return rows;
}

function table(rows: Row[], episodes: number): string {
  const f = (x: number | undefined, d: number) => (x === undefined ? '-' : x.toFixed(d));
  const lines = [
    `Calibration: ${CALIB_WINDOWS} windows of ${SEQ_LEN} tokens of C4 (seed 0), the same for every method; rl-allocation: --base wanda, --episodes ${episodes}, --seed 0.`,
    `Held out: ${HELD_OUT_WINDOWS} windows of ${SEQ_LEN} tokens (demo: assets/demo-model/eval.txt; stories260K: the first ${STORIES_CHARS} characters of tinystories_val.txt). KL = mean KL(dense || pruned) over every position, nats.`,
    '',
    '| model | sparsity | method | achieved | held-out ppl | held-out KL | held-out top-1 | calibration KL | seconds | notes |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(`| ${r.model} | ${r.level || '-'} | ${r.method} | ${f(r.achieved, 5)} | ${f(r.ppl, 3)} | ${f(r.heldOutKl, 5)} | ${r.top1 === undefined ? '-' : `${(r.top1 * 100).toFixed(2)}%`} | ${f(r.calibKl, 5)} | ${f(r.seconds, 1)} | ${r.note} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const models = arg('--models', 'demo,stories260K').split(',');
  const levels = arg('--levels', '0.5,0.7').split(',').map(Number);
  const methods = arg('--methods', 'wanda,owl,rl-allocation').split(',');
  const episodes = Number(arg('--episodes', '24'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-rl-table-'));
  const rows: Row[] = [];
  const t0 = Date.now();
  try {
    for (const m of models) rows.push(...(await measureModel(m, levels, methods, episodes, tmp)));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const md = `${table(rows, episodes)}\n\n(${((Date.now() - t0) / 1000).toFixed(0)} s wall for the script)\n`;
  const out = arg('--out', '');
  if (out) fs.writeFileSync(out, md);
  process.stdout.write(md);
}

main().catch((e) => {
  process.stderr.write(`rl-allocation-table: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
