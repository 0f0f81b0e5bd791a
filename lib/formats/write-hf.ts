// Writes a LoadedModel as a Hugging Face directory: config.json, model.safetensors
// (streamed one tensor at a time) and tokenizer files. Q/K rows go to HF's rotate-half
// layout; GPT-2 q/k/v are fused back into Conv1D c_attn and Conv1D weights transposed.
// Structurally pruned models are written as the stock class of their family can load
// them, or refused (lib/formats/hf-structure.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError, ShapeError } from '../errors';
import { LoadedModel, Tensor, TensorDType, TokenizerArtifacts } from '../model/types';
import { filesNative } from '../native/files';
import { writeAll, writeAtomically } from './atomic';
import { configToHF, hfNameFor } from './hf-config-out';
import { hfLayout, withZeroBiases } from './hf-structure';
import { DTYPE_BYTES } from './mapped';
import { numelOf } from './model';
import { SAFETENSORS_NAMES } from './safetensors';
import { outputBytes } from './tensor-out';
import { defaultTokenizer, warnNoTokenizer } from './tokenizer-out';

export interface WriteOptions {
  /** Output dtype of every tensor (default: each tensor's own). */
  dtype?: TensorDType;
  /**
   * The tokenizer written with the model. Default: the model's own, carried over (HF ->
   * HF copies its files, GGUF -> GGUF keeps its entries, other pairs are converted by
   * lib/tokenizer/artifacts.ts); a model that has none, or one the target format cannot
   * hold, is written without it and a warning (onWarning). `false`: write no tokenizer.
   */
  tokenizer?: TokenizerArtifacts | false;
  /** Receives the warnings of the write (default: process.emitWarning, code SHEARS_NO_TOKENIZER). */
  onWarning?: (message: string) => void;
  /** Replace an existing output. */
  force?: boolean;
}

export interface WriteHFOptions extends WriteOptions {
  /** Files copied verbatim into the output directory (an HF source's tokenizer files); given, they replace the default tokenizer. */
  copyFiles?: string[];
  /** Above this many bytes of weights, write model-0000i-of-0000N.safetensors shards and an index (default 5 GB, as transformers). */
  maxShardBytes?: number;
}

const DEFAULT_SHARD_BYTES = 5_000_000_000;

interface PlannedTensor {
  name: string;
  dtype: TensorDType;
  shape: number[];
  produce: () => Promise<Uint8Array>;
}

async function transposeBytes(src: Uint8Array, rows: number, cols: number, eb: number): Promise<Uint8Array> {
  const out = new Uint8Array(src.length);
  await filesNative().transposeBytes(src, out, rows, cols, eb);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function plan(model: LoadedModel, dtypeOpt?: TensorDType): PlannedTensor[] {
  const c = model.config;
  const out: PlannedTensor[] = [];
  const get = (n: string): Tensor => {
    const t = model.tensors.get(n);
    if (!t) throw new ShapeError(`${model.path}: tensor ${n} is missing`);
    return t;
  };
  const bytes = (t: Tensor, dt: TensorDType) => outputBytes(c, t, dt, 'rotate_half');
  for (const t of model.tensors.values()) {
    const dt = dtypeOpt ?? t.dtype;
    if (c.architecture === 'gpt2') {
      const m = /^blocks\.(\d+)\.attn\.([qkv])\.(weight|bias)$/.exec(t.name);
      if (m) {
        if (m[2] !== 'q') continue; // fused with q
        const parts = ['q', 'k', 'v'].map((p) => get(`blocks.${m[1]}.attn.${p}.${m[3]}`));
        const h = c.hiddenSize;
        out.push({
          name: `transformer.h.${m[1]}.attn.c_attn.${m[3]}`,
          dtype: dt,
          shape: m[3] === 'weight' ? [h, 3 * h] : [3 * h],
          produce: async () => {
            const fused = concat(await Promise.all(parts.map((p) => bytes(p, dt))));
            return m[3] === 'weight' ? transposeBytes(fused, 3 * h, h, DTYPE_BYTES[dt]) : fused;
          },
        });
        continue;
      }
      if (/^blocks\.\d+\.(attn\.o|mlp\.fc1|mlp\.fc2)\.weight$/.test(t.name)) {
        const [rows, cols] = t.shape;
        out.push({
          name: hfNameFor(c, t.name)!,
          dtype: dt,
          shape: [cols, rows],
          produce: async () => transposeBytes(await bytes(t, dt), rows, cols, DTYPE_BYTES[dt]),
        });
        continue;
      }
    }
    const name = hfNameFor(c, t.name);
    if (!name) throw new NotImplementedError(`tensor ${t.name} has no Hugging Face name for ${c.family}`);
    out.push({ name, dtype: dt, shape: t.shape.slice(), produce: () => bytes(t, dt) });
  }
  return out;
}

/** Streams planned tensors into one safetensors file. */
async function writeSafetensors(file: string, tensors: PlannedTensor[]): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    const n = plannedBytes(t);
    header[t.name] = { dtype: SAFETENSORS_NAMES[t.dtype], shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keeps tensor data 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = fs.openSync(file, 'wx');
  try {
    writeAll(fd, head);
    writeAll(fd, Buffer.from(json, 'utf8'));
    for (const t of tensors) {
      const data = await t.produce();
      const want = plannedBytes(t);
      if (data.length !== want) throw new ShapeError(`tensor ${t.name}: produced ${data.length} bytes, expected ${want}`);
      writeAll(fd, data);
    }
  } finally {
    fs.closeSync(fd);
  }
}

const plannedBytes = (t: PlannedTensor) => numelOf(t.shape) * DTYPE_BYTES[t.dtype];

/** Greedy split in order: a shard closes when the next tensor would pass the limit. */
function shardPlan(tensors: PlannedTensor[], limit: number): PlannedTensor[][] {
  const shards: PlannedTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const n = plannedBytes(t);
    if (size > 0 && size + n > limit) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += n;
  }
  return shards;
}

async function writeWeights(dir: string, tensors: PlannedTensor[], limit: number): Promise<void> {
  const shards = shardPlan(tensors, limit);
  if (shards.length === 1) return writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const name = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    await writeSafetensors(path.join(dir, name), shards[i]);
    for (const t of shards[i]) weightMap[t.name] = name;
  }
  const index = { metadata: { total_size: tensors.reduce((a, t) => a + plannedBytes(t), 0) }, weight_map: weightMap };
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

function mainDType(model: LoadedModel, opt?: TensorDType): TensorDType {
  return opt ?? model.tensors.get('embed.weight')?.dtype ?? 'f32';
}

export async function writeHF(model: LoadedModel, outDir: string, opts: WriteHFOptions = {}): Promise<void> {
  // Before anything is written: a model no stock class loads (per-block widths, heads
  // removed from OPT/GPT-2...) is refused, and tensor names are checked.
  const layout = hfLayout(model);
  const tensors = plan({ ...model, config: layout.config, tensors: withZeroBiases(model.tensors, layout) }, opts.dtype);
  const source = model.format === 'hf' ? (model.meta.hfConfig as Record<string, unknown>) : undefined;
  const config = configToHF(layout, mainDType(model, opts.dtype), source);
  let copyFiles = opts.copyFiles ?? [];
  let tokenizer = opts.tokenizer;
  if (tokenizer === undefined && opts.copyFiles === undefined) {
    const d = await defaultTokenizer(model, 'hf');
    if (d.how === 'copy') copyFiles = d.files;
    else if (d.how === 'convert') tokenizer = d.artifacts;
    else if (d.how === 'none') warnNoTokenizer(model, d.reason, opts.onWarning);
  }
  const files = tokenizer ? tokenizer.hfFiles : {};
  for (const name of Object.keys(files))
    if (name !== path.basename(name) || name === 'config.json' || name.endsWith('.safetensors'))
      throw new ShapeError(`tokenizer file name ${JSON.stringify(name)} is not allowed`);
  await writeAtomically(outDir, 'dir', { force: opts.force, inputPath: model.path }, async (tmp) => {
    fs.writeFileSync(path.join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), text);
    for (const f of copyFiles) fs.copyFileSync(f, path.join(tmp, path.basename(f)));
    await writeWeights(tmp, tensors, opts.maxShardBytes ?? DEFAULT_SHARD_BYTES);
  });
}
