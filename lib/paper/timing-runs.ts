// Table 7: one `shears prune` child process per method, so that each peak resident
// memory is that method's alone (a process's peak only grows, so runs inside one process
// would each report the largest so far). Each report is kept in DIR/runs/<method>.json;
// the pruned model itself is removed once its report is read.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MethodInfo } from '../methods/registry';
import { packageRoot } from '../native/binding';
import type { PruneReport } from '../prune/report';
import { writeFileAtomic } from '../report/atomic';
import type { PaperOptions, PaperSettings } from './plan';

export interface TimingRun {
  label: string;
  method: string;
  report?: PruneReport;
  /** Why there is no report (the run failed: its last error line). */
  error?: string;
}

export interface TimingCase {
  method: MethodInfo;
  /** Structured: the structure removed at 20% of the block parameters; else 50% unstructured. */
  structure?: 'channels' | 'layers';
}

/** The command line of one case (calibration as the sweeps', the search's winner for formula). */
function pruneArgs(c: TimingCase, o: PaperOptions, s: PaperSettings, out: string, winner: string | undefined): string[] {
  const m = c.method;
  const args = ['prune', '--model', o.model, '--method', m.name, '--out', out, '--json', '--backend', o.backend ?? 'auto'];
  if (o.tokenizer) args.push('--tokenizer', o.tokenizer);
  if (m.patternsOnly) args.push('--pattern', '2:4');
  else args.push('--sparsity', c.structure ? '0.2' : '0.5');
  if (c.structure) args.push('--structure', c.structure);
  if (m.calibrated) {
    args.push('--calib', o.calib, '--calib-samples', String(s.calibSamples), '--seed', String(s.seed));
    if (s.seqLen !== undefined) args.push('--seq-len', String(s.seqLen));
  }
  if (m.recovers && !m.environment) args.push('--queries', o.queries ?? o.calib);
  if (m.name === 'formula' && winner) args.push('--score', winner);
  return args;
}

/** Runs the CLI as a child process; resolves with its stdout, or rejects with its last stderr line. */
function runCli(args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'shears.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else {
        const lines = err.split(/\r?\n/).filter((l) => l.trim() !== '' && !/^\s*[|#\d.]+%|\r/.test(l));
        reject(new Error((lines.at(-1) ?? `exit code ${code}`).replace(/^shears: /, '')));
      }
    });
  });
}

/** The runs of Table 7, each cached in runsDir (reused on --resume). */
export async function timingRuns(cases: TimingCase[], o: PaperOptions, s: PaperSettings, runsDir: string, winner: string | undefined, onProgress?: (label: string) => void): Promise<TimingRun[]> {
  fs.mkdirSync(runsDir, { recursive: true });
  const runs: TimingRun[] = [];
  for (const [i, c] of cases.entries()) {
    o.signal?.throwIfAborted();
    const label = c.structure ? `${c.method.name} (${c.structure} 20%)` : c.method.patternsOnly ? `${c.method.name} (2:4)` : c.method.name;
    const key = `${c.method.name}${c.structure ? `-${c.structure}` : ''}`;
    const cached = path.join(runsDir, `${key}.json`);
    if (o.resume && fs.existsSync(cached)) {
      runs.push(JSON.parse(fs.readFileSync(cached, 'utf8')) as TimingRun);
      continue;
    }
    onProgress?.(`table 7: ${i + 1}/${cases.length} shears prune --method ${label}`);
    // Structured: GGUF for Llama-family models (any per-block widths); OPT and GPT-2 as HF with uniform widths.
    const gguf = c.structure !== undefined && !s.modelIsOptFamily;
    const out = path.join(runsDir, `${key}.model${gguf ? '.gguf' : ''}`);
    let run: TimingRun;
    try {
      const args = pruneArgs(c, o, s, out, winner);
      const stdout = await runCli(c.structure && !gguf ? [...args, '--uniform'] : args, o.signal);
      run = { label, method: c.method.name, report: JSON.parse(stdout.trim().split('\n').at(-1)!) as PruneReport };
    } catch (e) {
      if (o.signal?.aborted) throw e;
      run = { label, method: c.method.name, error: (e as Error).message };
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
      fs.rmSync(out.replace(/\.gguf$/, '.prune-report.json'), { force: true });
    }
    await writeFileAtomic(cached, JSON.stringify(run));
    runs.push(run);
  }
  return runs;
}
