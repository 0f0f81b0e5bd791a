// Peak private memory of `shears stats --gradients` (issue 11's done-when): the CLI runs
// as a child process on a model (bench/synthetic-model.ts writes a 7B-shaped one) with
// random calibration tokens, once with the gradient moments in memory (budget larger
// than they are) and once in file-backed scratch pages (budget 0); /proc/<pid>/status is
// sampled every 50 ms for RssAnon (private: the process's anonymous memory), RssFile
// (mapped file pages: the model, the scratch accumulators) and RssShmem; VmHWM is the
// kernel's peak of their sum. Linux only. bench/backward.ts runs it with --stats-model DIR.
//   node -r ./scripts/fuzz/ts-hook.js bench/stats-memory.ts MODEL_DIR [--samples 4] [--seq-len 64] [--json]
//   (or node dist/bench/stats-memory.js ... once compiled)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadModel } from '../lib/formats/load';

interface Peak {
  budget: string;
  seconds: number;
  peak_rss_anon_mib: number;
  peak_rss_file_mib: number;
  peak_rss_shmem_mib: number;
  vm_hwm_mib: number;
}

function statusKiB(pid: number): Record<string, number> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(RssAnon|RssFile|RssShmem|VmHWM):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** Runs `shears stats` (from the TypeScript sources) in a child; its peaks. */
async function measure(args: string[], budget: string): Promise<Peak> {
  const script = `require(${JSON.stringify(path.resolve(__dirname, '../lib/cli/main'))}).main(['node', 'shears', ...${JSON.stringify(args)}]).then((c) => process.exit(c))`;
  // From the TypeScript sources (ts-hook) or from dist/ (compiled: plain node).
  const hook = __filename.endsWith('.ts') ? ['-r', path.resolve(__dirname, '../scripts/fuzz/ts-hook.js')] : [];
  const t0 = Date.now();
  const child = spawn(process.execPath, [...hook, '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const peak = { RssAnon: 0, RssFile: 0, RssShmem: 0, VmHWM: 0 };
  const timer = setInterval(() => {
    const s = statusKiB(child.pid!);
    if (s) for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], s[k] ?? 0);
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`shears stats exited with ${code}`);
  const mib = (kib: number) => Math.round(kib / 1024);
  return {
    budget,
    seconds: (Date.now() - t0) / 1000,
    peak_rss_anon_mib: mib(peak.RssAnon),
    peak_rss_file_mib: mib(peak.RssFile),
    peak_rss_shmem_mib: mib(peak.RssShmem),
    vm_hwm_mib: mib(peak.VmHWM),
  };
}

export interface StatsMemoryReport {
  model: { path: string; blocks: number; hidden: number; block_linear_weights: number; accumulator_mib: number };
  calibration: { samples: number; seq_len: number };
  runs: Peak[];
}

/** `shears stats --gradients` on `modelDir`, accumulators in memory then in scratch pages: the peaks of each run. */
export async function measureStatsMemory(modelDir: string, o: { samples: number; seqLen: number }): Promise<StatsMemoryReport> {
  const { samples, seqLen } = o;
  const m = await loadModel(modelDir);
  const { vocabSize, numLayers, hiddenSize } = m.config;
  let weights = 0;
  for (const [name, t] of m.tensors) if (/^blocks\.\d+\.(attn|mlp)\./.test(name) && t.shape.length === 2) weights += t.data.length;
  m.close();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shears-stats-mem-'));
  try {
    const ids = path.join(dir, 'calib.json');
    let x = 12345;
    fs.writeFileSync(ids, JSON.stringify(Array.from({ length: samples * seqLen * 2 }, () => (x = (x * 1103515245 + 12345) % 2 ** 31) % vocabSize)));
    const common = ['stats', '--model', modelDir, '--calib-tokens', ids, '--calib-samples', String(samples), '--seq-len', String(seqLen), '--gradients'];
    const runs: Peak[] = [];
    for (const [budget, mib] of [
      ['in memory', String(2 ** 20)],
      ['scratch pages', '0'],
    ] as const) {
      const out = path.join(dir, `stats-${mib}.safetensors`);
      runs.push(await measure([...common, '--gradient-budget', mib, '--out', out], budget));
      fs.rmSync(out);
    }
    return {
      model: { path: path.resolve(modelDir), blocks: numLayers, hidden: hiddenSize, block_linear_weights: weights, accumulator_mib: Math.round((8 * weights) / 2 ** 20) },
      calibration: { samples, seq_len: seqLen },
      runs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string, def: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : def;
  };
  const modelDir = argv.find((a, i) => !a.startsWith('--') && (i === 0 || !argv[i - 1].startsWith('--')));
  if (!modelDir) throw new Error('usage: stats-memory.ts MODEL_DIR [--samples 4] [--seq-len 64] [--json]');
  const report = await measureStatsMemory(modelDir, { samples: flag('--samples', 4), seqLen: flag('--seq-len', 64) });
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify(report)}\n` : `${JSON.stringify(report, null, 2)}\n`);
}

if (require.main === module)
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
