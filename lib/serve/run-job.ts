// Runs one job with the library function of its kind (the same calls the CLI makes) and
// says what it produced: the report file and every file written, for the files routes.
// Each library call writes its outputs atomically and cleans its scratch however it
// ends, so a job that fails or is stopped leaves nothing half-written to serve.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { evaluate, EvaluateOptions } from '../eval/run-eval';
import { paper, PaperOptions } from '../paper/run';
import { prune, PruneOptions } from '../prune/run';
import { writeFileAtomic } from '../report/atomic';
import { sweep, SweepRunOptions } from '../sweep/run';
import type { JobKind } from './job-options';
import type { JobProgress } from './job-store';

export interface JobContext {
  id: string;
  signal: AbortSignal;
  onProgress: (p: JobProgress) => void;
  onWarning: (message: string) => void;
  /** Where an eval job's report is kept (eval writes no file of its own). */
  reportsDir: string;
}

export interface JobOutcome {
  report: string;
  outputs: string[];
  outputBase: string;
  summary?: Record<string, unknown>;
}

/** Every file under `p` (or `p` itself), absolute, in a stable order. */
function filesUnder(p: string): string[] {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs
    .readdirSync(p, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(p, e.name)) : e.isFile() ? [path.join(p, e.name)] : []));
}

type Options = Record<string, unknown>;

const RUNNERS: Record<JobKind, (o: Options, c: JobContext) => Promise<JobOutcome>> = {
  async prune(o, c) {
    const report = await prune({ ...(o as unknown as PruneOptions), signal: c.signal, onProgress: (p) => c.onProgress({ ...p }), onWarning: c.onWarning });
    const model = report.output.path;
    const outputs = [...new Set([...filesUnder(model), report.output.report])];
    return { report: report.output.report, outputs, outputBase: report.output.format === 'hf' ? model : path.dirname(model) };
  },
  async eval(o, c) {
    const report = await evaluate({ ...(o as unknown as EvaluateOptions), signal: c.signal, onProgress: (p) => c.onProgress({ ...p }) });
    const file = path.join(c.reportsDir, `${c.id}.json`);
    await writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
    return { report: file, outputs: [], outputBase: c.reportsDir };
  },
  async sweep(o, c) {
    const outcome = await sweep({ ...(o as unknown as SweepRunOptions), signal: c.signal, onProgress: (p) => c.onProgress({ ...p }), onWarning: c.onWarning });
    const out = path.resolve(o.out as string);
    return {
      report: path.join(out, 'results.json'),
      outputs: outcome.files.map((f) => path.resolve(out, f)),
      outputBase: out,
      summary: { cells: outcome.results.cells.length, computed: outcome.computed, reused: outcome.reused },
    };
  },
  async paper(o, c) {
    const outcome = await paper({ ...(o as unknown as PaperOptions), signal: c.signal, onProgress: (label) => c.onProgress({ label }), onWarning: c.onWarning });
    const out = path.resolve(o.out as string);
    return { report: path.join(out, 'paper.json'), outputs: outcome.files.map((f) => path.resolve(out, f)), outputBase: out, summary: { tables: outcome.tables.length } };
  },
};

export function runJob(kind: JobKind, options: Options, context: JobContext): Promise<JobOutcome> {
  return RUNNERS[kind](options, context);
}
