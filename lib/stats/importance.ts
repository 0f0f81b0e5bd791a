// Importance files, whatever their form: shears' own (safetensors, lib/stats/format.ts),
// llama.cpp's GGUF imatrix and its legacy .dat. Opened by content (as llama.cpp tries
// GGUF first), they all answer the same questions: which statistics they hold, and for a
// model's architecture, the input statistics of each canonical linear weight. Values are
// read one layer at a time, after the caller has compared the widths with the model.
import * as fs from 'node:fs';

import { FormatError } from '../errors';
import { ImatrixFile } from '../formats/imatrix';
import { readImatrixDat } from '../formats/imatrix-dat';
import { readImatrixGGUF } from '../formats/imatrix-gguf';
import { MappedFile } from '../formats/mapped';
import type { Architecture } from '../model/types';
import type { StatisticName } from '../strategies';
import { checkShearsMetadata, SHEARS_PROVIDES } from './format';
import { GRAD_STATS, INPUT_STATS, parseKey, weightsOfImatrixName } from './names';
import { readSafetensors, TensorIn } from './safetensors-f64';

export type ImportanceForm = 'shears' | 'imatrix-gguf' | 'imatrix-dat';

/** The per-column statistics of one layer input. */
export interface InputStatistics {
  sumSq: Float64Array;
  sum?: Float64Array;
  /** Per column: tokens with |x| above the file's activation threshold. */
  outliers?: Float64Array;
  /** Tokens, or for a legacy imatrix chunks (sumSq / count is the mean of x^2 either way). */
  count: number;
}

export interface LayerInput {
  /** The file's name for it (a key, or an imatrix tensor). */
  source: string;
  columns: number;
  read(): InputStatistics;
}

/** The gradient moments of one weight in a shears file (S1, S2 over `count` sequences). */
export interface WeightGradients {
  /** The weight's shape, [out, in]. */
  shape: number[];
  /** Calibration sequences K. */
  count: number;
  /** Copies S1 (sum) or S2 (sumSq) out of the file; values checked finite (S2 also >= 0). */
  read(which: 'sum' | 'sumSq'): Float32Array;
}

export interface ImportanceSource {
  path: string;
  form: ImportanceForm;
  countUnit: 'tokens' | 'chunks';
  /** The strategy statistic names the file can supply. */
  provides: readonly StatisticName[];
  /** shears' metadata (shears files; a GGUF imatrix written by shears). */
  metadata: Record<string, string>;
  /** Calibration data named by an imatrix. */
  datasets: string[];
  /** Canonical weight -> its input statistics for a model of `arch`; `unmapped`: file entries no weight of that architecture has. */
  layers(arch: Architecture): { byWeight: Map<string, LayerInput>; unmapped: string[] };
  /** Canonical weight -> its gradient moments (shears files written with --gradients; empty otherwise). */
  gradients: Map<string, WeightGradients>;
  close(): void;
}

/** What the first bytes say the file is (unreadable files go to the legacy reader, which names the problem). */
function sniff(path: string): ImportanceForm {
  const head = Buffer.alloc(9);
  try {
    const fd = fs.openSync(path, 'r');
    try {
      fs.readSync(fd, head, 0, 9, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return 'imatrix-dat';
  }
  if (head.toString('latin1', 0, 4) === 'GGUF') return 'imatrix-gguf';
  if (head[8] === 0x7b && head.readBigUInt64LE(0) < 1n << 32n) return 'shears'; // u64 header length, then '{'
  return 'imatrix-dat';
}

/** Checks the values of one input as they are read: sums of squares and counts are finite and >= 0. */
function checked(file: string, what: string, s: InputStatistics): InputStatistics {
  const bad = s.sumSq.findIndex((v) => !(v >= 0 && Number.isFinite(v)));
  if (bad >= 0) throw new FormatError(file, `${what}: sum of squares of column ${bad} is ${s.sumSq[bad]} (must be finite and >= 0)`);
  if (s.sum?.some((v) => !Number.isFinite(v))) throw new FormatError(file, `${what}: a column sum is not finite`);
  if (!(s.count >= 0 && Number.isSafeInteger(s.count))) throw new FormatError(file, `${what}: count ${s.count} is not an integer >= 0`);
  return s;
}

function fromImatrix(m: ImatrixFile): ImportanceSource {
  return {
    path: m.path,
    form: m.form === 'gguf' ? 'imatrix-gguf' : 'imatrix-dat',
    countUnit: m.countUnit,
    provides: ['columnSumSq'],
    // A GGUF imatrix written by shears carries shears' metadata under shears.*.
    metadata: Object.fromEntries(Object.entries(m.metadata).map(([k, v]) => [k.replace(/^shears\./, ''), v])),
    datasets: m.datasets,
    gradients: new Map(),
    layers(arch) {
      const byWeight = new Map<string, LayerInput>();
      const unmapped: string[] = [];
      for (const e of m.entries) {
        const weights = weightsOfImatrixName(e.name, arch);
        // llama-imatrix --process-output also records output.weight: the LM head is no block layer, and never calibrated.
        if (weights.length === 1 && weights[0] === 'lm_head.weight') continue;
        if (weights.length === 0) unmapped.push(e.name);
        if (e.matrices !== 1 && weights.length > 0)
          throw new FormatError(m.path, `${e.name} holds ${e.matrices} matrices (a mixture of experts); the model's ${weights[0]} is one matrix`);
        const read = () => checked(m.path, e.name, { sumSq: Float64Array.from(e.values()), count: e.counts[0] });
        for (const w of weights) byWeight.set(w, { source: e.name, columns: e.columns, read });
      }
      return { byWeight, unmapped };
    },
    close: () => m.close(),
  };
}

/** Each weight's gradient entries checked as a whole: sum and sum_sq of one 2-D shape, count [1]. */
function gradientsOf(f: MappedFile, grads: Map<string, Partial<Record<string, TensorIn>>>): Map<string, WeightGradients> {
  const out = new Map<string, WeightGradients>();
  for (const [weight, g] of grads) {
    const base = weight.replace(/\.weight$/, '.grad');
    if (!g.sum || !g.sum_sq || !g.count) f.fail(`${base} needs sum, sum_sq and count`);
    if (g.sum.shape.length !== 2 || g.sum_sq.shape.join() !== g.sum.shape.join())
      f.fail(`${base}.sum and ${base}.sum_sq must have one 2-D shape [out, in], got [${g.sum.shape.join(', ')}] and [${g.sum_sq.shape.join(', ')}]`);
    if (g.count.shape.join() !== '1') f.fail(`${base}.count must have shape [1]`);
    const count = g.count.read()[0];
    if (!(Number.isSafeInteger(count) && count >= 1)) f.fail(`${base}.count is ${count}, not a number of sequences >= 1`);
    const tensor = { sum: g.sum, sumSq: g.sum_sq };
    out.set(weight, {
      shape: g.sum.shape,
      count,
      read: (which) => {
        const v = tensor[which].read() as Float32Array;
        const bad = v.findIndex((x) => !Number.isFinite(x) || (which === 'sumSq' && x < 0));
        if (bad >= 0) throw new FormatError(f.path, `${tensor[which].name}: value ${bad} is ${v[bad]} (must be finite${which === 'sumSq' ? ' and >= 0' : ''})`);
        return v;
      },
    });
  }
  return out;
}

function fromShears(path: string): ImportanceSource {
  const f: MappedFile = MappedFile.open(path);
  try {
    const { tensors, metadata } = readSafetensors(f);
    checkShearsMetadata(path, metadata);
    const inputs = new Map<string, Partial<Record<string, TensorIn>>>();
    const grads = new Map<string, Partial<Record<string, TensorIn>>>();
    for (const [key, t] of tensors) {
      const k = parseKey(key);
      if (!k || (k.group !== 'input' && k.group !== 'grad')) f.fail(`unexpected tensor ${key} (keys are <layer>.input.<statistic>, e.g. blocks.0.attn.q.input.sum_sq)`);
      if (k.group === 'grad') {
        if (!(GRAD_STATS as readonly string[]).includes(k.stat)) f.fail(`unexpected statistic ${key} (gradients have ${GRAD_STATS.join(', ')})`);
        if (t.dtype !== (k.stat === 'count' ? 'F64' : 'F32')) f.fail(`${key} must be ${k.stat === 'count' ? 'F64' : 'F32'}`);
        grads.set(k.weight, { ...grads.get(k.weight), [k.stat]: t });
        continue;
      }
      if (!(INPUT_STATS as readonly string[]).includes(k.stat)) f.fail(`unexpected statistic ${key} (inputs have ${INPUT_STATS.join(', ')})`);
      if (t.dtype !== 'F64') f.fail(`${key} must be F64`);
      inputs.set(k.weight, { ...inputs.get(k.weight), [k.stat]: t });
    }
    const layers = new Map<string, LayerInput>();
    for (const [weight, s] of inputs) {
      const base = weight.replace(/\.weight$/, '.input');
      if (!s.sum_sq || !s.count) f.fail(`${base} needs sum_sq and count`);
      const columns = s.sum_sq.shape.length === 1 ? s.sum_sq.shape[0] : f.fail(`${base}.sum_sq must be 1-D`);
      for (const x of [s.sum, s.outliers]) if (x && x.shape.join() !== `${columns}`) f.fail(`${x.name} has shape [${x.shape.join(', ')}], not [${columns}]`);
      if (s.count.shape.join() !== '1') f.fail(`${base}.count must have shape [1]`);
      const read = () =>
        checked(path, base, {
          sumSq: s.sum_sq!.read() as Float64Array,
          sum: s.sum?.read() as Float64Array | undefined,
          outliers: s.outliers?.read() as Float64Array | undefined,
          count: s.count!.read()[0],
        });
      layers.set(weight, { source: `${base}.sum_sq`, columns, read });
    }
    const gradients = gradientsOf(f, grads);
    return {
      path,
      form: 'shears',
      countUnit: 'tokens',
      provides: gradients.size > 0 ? [...SHEARS_PROVIDES, 'gradient'] : SHEARS_PROVIDES,
      gradients,
      metadata,
      datasets: [],
      layers: () => ({ byWeight: layers, unmapped: [] }),
      close: () => f.close(),
    };
  } catch (e) {
    f.close();
    throw e;
  }
}

/** Opens an importance file of any form; close() it when done. */
export function openImportance(path: string): ImportanceSource {
  const form = sniff(path);
  if (form === 'shears') return fromShears(path);
  return fromImatrix(form === 'imatrix-gguf' ? readImatrixGGUF(path) : readImatrixDat(path));
}
