// What `shears paper` runs: the seed's eight tables as sweeps (lib/sweep, cached per cell
// under DIR/sweeps/<name>, so --resume finishes an interrupted run), one formula search
// and one `shears prune` child process per method for the running-time table.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { BackendRequest, checkBackendRequest } from '../backend';
import { parseQueueUrl } from '../distributed/connection';
import { ArgumentRangeError } from '../errors';
import { METHODS, MethodInfo, methodInfo } from '../methods/registry';
import { packageRoot } from '../native/binding';
import { DEFAULT_LEVELS, SweepOptions } from '../sweep/options';

export interface PaperOptions {
  /** The model of every table but Table 6 (HF directory, .gguf or llama2.c .bin). */
  model: string;
  tokenizer?: string;
  /** Calibration text: the users' queries (one per line, a corpus, or JSONL). */
  calib: string;
  /** Evaluation text for perplexity. */
  eval: string;
  /** Held-out queries for KL and top-1 agreement (default: the evaluation windows). */
  queries?: string;
  /** The output folder: paper.md, paper.json, paper.html, and the cached sweeps. */
  out: string;
  resume?: boolean;
  force?: boolean;
  /** Reduced levels, calibration and evaluation (minutes on two cores for the demo model). */
  quick?: boolean;
  /** Table 6's model, an OPT or GPT-2 model (default: --model when it is one, else the shipped OPT demo model). */
  optModel?: string;
  /** The strategies of Tables 4, 7 and 8 (default: every implemented method). */
  methods?: string[];
  /** Table 5: formula evaluations of the search (default 48, --quick 16). */
  budget?: number;
  seed?: number;
  calibSamples?: number;
  seqLen?: number;
  maxWindows?: number;
  backend?: BackendRequest;
  /** A Redis URL: the paper's sweeps run their cells on `shears worker` processes (docs/distributed.md); the search and Table 7's timed runs stay here. */
  queue?: string;
  signal?: AbortSignal;
  /** One line per step ("table 4: cell 3/40 wanda 50%"). */
  onProgress?: (label: string) => void;
  onWarning?: (message: string) => void;
}

/** The levels of Tables 1-3 and 6 with --quick. */
export const QUICK_LEVELS: readonly number[] = [0.1, 0.3, 0.5, 0.7, 0.9];

export interface PaperSettings {
  levels: number[];
  calibSamples: number;
  seqLen?: number;
  maxWindows?: number;
  budget: number;
  seed: number;
  optModel: string;
  /** Why Table 6 uses optModel (said in its caption). */
  optModelNote: string;
  /** --model is an OPT or GPT-2 model (structured outputs are written as HF with uniform widths). */
  modelIsOptFamily: boolean;
}

/** A sub-sweep: its folder name under DIR/sweeps and what it runs. */
export interface PlannedSweep {
  name: string;
  options: Omit<SweepOptions, 'out' | 'resume' | 'force'>;
}

const exists = (f: string, flag: string) => {
  if (!fs.existsSync(f)) throw new ArgumentRangeError(`${flag} ${f} does not exist`);
};

/** The architecture of an HF directory (config.json model_type), or undefined for other formats. */
function hfModelType(dir: string): string | undefined {
  const config = path.join(dir, 'config.json');
  if (!fs.existsSync(config)) return undefined;
  try {
    return String((JSON.parse(fs.readFileSync(config, 'utf8')) as { model_type?: unknown }).model_type ?? '');
  } catch {
    return undefined;
  }
}

/** Everything checked before any work: files, numbers, the output folder. */
export function checkPaperOptions(o: PaperOptions): PaperSettings {
  if (!o.model) throw new ArgumentRangeError('give --model PATH');
  if (!o.out) throw new ArgumentRangeError('give --out DIR');
  exists(o.model, '--model');
  exists(o.calib ?? '', '--calib');
  exists(o.eval ?? '', '--eval');
  if (o.queries !== undefined) exists(o.queries, '--queries');
  if (o.tokenizer !== undefined) exists(o.tokenizer, '--tokenizer');
  checkBackendRequest(o.backend);
  if (o.queue !== undefined) parseQueueUrl(o.queue);
  for (const [k, v] of [
    ['calib-samples', o.calibSamples],
    ['seq-len', o.seqLen],
    ['max-windows', o.maxWindows],
  ] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ArgumentRangeError(`--${k} must be a positive integer, got ${v}`);
  if (o.budget !== undefined && (!Number.isInteger(o.budget) || o.budget < 1))
    throw new ArgumentRangeError(`--budget must be a positive integer (formula evaluations of Table 5's search), got ${String(o.budget)}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ArgumentRangeError(`--seed must be an integer, got ${o.seed}`);
  if (o.methods !== undefined) {
    if (o.methods.length === 0) throw new ArgumentRangeError('--methods is empty');
    for (const m of o.methods) methodInfo(m); // unknown or not implemented: a typed error now
  }
  if (fs.existsSync(o.out) && !fs.statSync(o.out).isDirectory()) throw new ArgumentRangeError(`--out ${o.out} exists and is not a directory`);
  // A finished or an interrupted run (its sweeps, search or Table 7 reports).
  if (!o.resume && !o.force && ['paper.json', 'sweeps', 'runs', 'formula-search.json'].some((f) => fs.existsSync(path.join(o.out, f))))
    throw new ArgumentRangeError(`${o.out} already holds a paper run: use --resume to finish or refresh it, or --force to start over`);
  const type = hfModelType(o.model);
  let optModel: string;
  let optModelNote: string;
  if (o.optModel !== undefined) {
    exists(o.optModel, '--opt-model');
    optModel = o.optModel;
    optModelNote = `--opt-model ${o.optModel}`;
  } else if (type === 'opt' || type === 'gpt2') {
    optModel = o.model;
    optModelNote = `--model (an ${type === 'opt' ? 'OPT' : 'GPT-2'} model)`;
  } else {
    optModel = path.join(packageRoot(), 'assets', 'demo-opt');
    optModelNote = "shears' OPT demo model (assets/demo-opt), since --model is not an OPT or GPT-2 model (give --opt-model for another)";
  }
  return {
    levels: o.quick ? [...QUICK_LEVELS] : [...DEFAULT_LEVELS],
    calibSamples: o.calibSamples ?? (o.quick ? 16 : 64),
    seqLen: o.seqLen ?? (o.quick ? 128 : undefined),
    maxWindows: o.maxWindows ?? (o.quick ? 8 : undefined),
    budget: o.budget ?? (o.quick ? 16 : 48),
    seed: o.seed ?? 0,
    optModel,
    optModelNote,
    modelIsOptFamily: type === 'opt' || type === 'gpt2',
  };
}

/** The implemented methods the paper covers (--methods, else all). */
const covered = (o: Pick<PaperOptions, 'methods'>): MethodInfo[] => METHODS.filter((m) => m.implemented && (o.methods === undefined || o.methods.includes(m.name)));

/** Methods that mask weights (Table 4's 50% and 2:4 columns): every implemented one but the structured plugins. */
export const maskingMethods = (o: Pick<PaperOptions, 'methods'>): MethodInfo[] => covered(o).filter((m) => m.kind !== 'structured');

/** Methods that remove units: structured plugins and the masking methods with a structured form. */
export function unitMethods(o: Pick<PaperOptions, 'methods'>): { channels: MethodInfo[]; layersOnly: MethodInfo[] } {
  const structured = covered(o).filter((m) => m.kind === 'structured' || m.structured !== undefined);
  const structures = (m: MethodInfo) => (m.plugin?.kind === 'structured' ? m.plugin.structures : (m.structured?.().structures ?? []));
  return {
    channels: structured.filter((m) => structures(m).includes('channels')),
    layersOnly: structured.filter((m) => !structures(m).includes('channels')),
  };
}

/** The sweeps of Tables 1-4, 6 and 8 (Table 5's winner goes to formula's --score). */
export function plannedSweeps(o: PaperOptions, s: PaperSettings, winner: string | undefined): PlannedSweep[] {
  const common = {
    model: o.model,
    tokenizer: o.tokenizer,
    calib: o.calib,
    calibSamples: s.calibSamples,
    seqLen: s.seqLen,
    seed: s.seed,
    eval: o.eval,
    maxWindows: s.maxWindows,
    queries: o.queries,
    backend: o.backend,
  };
  const masking = maskingMethods(o).filter((m) => m.name !== 'formula' || winner !== undefined);
  const units = unitMethods(o);
  const sweeps: PlannedSweep[] = [
    { name: 'levels', options: { ...common, methods: ['wanda', 'magnitude'], levels: s.levels } },
    { name: 'bias', options: { ...common, methods: ['bias'], levels: s.levels, structure: 'channels' } },
  ];
  if (masking.length > 0) {
    const score = winner && masking.some((m) => m.name === 'formula') ? { score: winner } : {};
    sweeps.push({ name: 'strategies', options: { ...common, methods: masking.map((m) => m.name), levels: [0.5], patterns: ['unstructured', '2:4'], speed: true, ...score } });
  }
  if (units.channels.length > 0)
    sweeps.push({ name: 'structured', options: { ...common, methods: units.channels.map((m) => m.name), levels: [0.2], structure: 'channels', speed: true } });
  if (units.layersOnly.length > 0)
    sweeps.push({ name: 'structured-layers', options: { ...common, methods: units.layersOnly.map((m) => m.name), levels: [0.2], structure: 'layers', speed: true } });
  sweeps.push({
    name: 'opt-sweep',
    options: { ...common, model: s.optModel, tokenizer: undefined, methods: ['magnitude', 'wanda', 'sparsegpt'], levels: s.levels, patterns: ['unstructured', '2:4'] },
  });
  return sweeps;
}
