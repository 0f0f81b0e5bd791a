// Writes a LoadedModel as a GGUF v3 file that llama.cpp loads, streaming tensor data.
// The architecture (lib/formats/gguf-arch.ts): 'llama' for the Llama family with the
// same widths in every block (Q/K permuted to the interleaved order), 'qwen2' for a Qwen2
// model its loader still takes (rotate-half order, q/k/v biases), 'deci' for per-block
// widths or removed sublayers (lib/formats/gguf-deci.ts), 'gpt2' for GPT-2 (q/k/v fused
// into attn_qkv). Metadata: a GGUF source's own entries are kept (the architecture keys
// regenerated from the config); tokenizer entries come from opts.tokenizer, else the
// model's own (kept from a GGUF source, converted from others: lib/formats/tokenizer-out.ts).
// 1-D tensors (norms, biases) stay float32, as llama.cpp expects.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError, ShapeError } from '../errors';
import { GGUFEntry, LoadedModel, Tensor, TensorDType } from '../model/types';
import { writeAll, writeAtomically } from './atomic';
import { chooseGGUFArch } from './gguf-arch';
import { deciBlocks, zeroSublayer } from './gguf-deci';
import { encodeGGUFHeader, GGUFTensorOut } from './gguf-encode';
import { archEntries, SHAPE_KEY_SUFFIXES } from './gguf-meta-out';
import { GGUF_ARCHES, GGUFArch, ggufFromCanonical } from './gguf-names';
import { DTYPE_BYTES } from './mapped';
import { numelOf } from './model';
import { llama3Factors } from './rope-scaling';
import { bytesOf, outputBytes } from './tensor-out';
import { defaultTokenizer, warnNoTokenizer } from './tokenizer-out';
import { WriteOptions } from './write-hf';

const ALIGNMENT = 32;
const GGML_TYPE: Record<TensorDType, number> = { f32: 0, f16: 1, bf16: 30 };
const FILE_TYPE: Record<TensorDType, number> = { f32: 0, f16: 1, bf16: 32 };

function alignUp(n: number): number {
  return Math.ceil(n / ALIGNMENT) * ALIGNMENT;
}

/** A source GGUF's entry the writer keeps: not one it regenerates, nor one of another architecture. */
function keepSourceEntry(key: string, arch: GGUFArch): boolean {
  if (key.startsWith('tokenizer.') || key.startsWith('shears.') || key === 'general.alignment') return false;
  const m = /^([a-z0-9_]+)\.(.+)$/.exec(key);
  if (!m || !(m[1] in GGUF_ARCHES)) return true;
  return m[1] === arch && !SHAPE_KEY_SUFFIXES.includes(m[2]);
}

function metadata(model: LoadedModel, arch: GGUFArch, own: GGUFEntry[], opts: WriteOptions): GGUFEntry[] {
  const c = model.config;
  const source = model.format === 'gguf' ? ((model.meta.gguf as GGUFEntry[] | undefined) ?? []) : [];
  const tokenizer: GGUFEntry[] =
    opts.tokenizer === false
      ? []
      : opts.tokenizer
        ? [...opts.tokenizer.ggufEntries]
        : source.filter((e) => e.key.startsWith('tokenizer.'));
  // Without tokenizer entries, still record the special ids the config knows.
  for (const [key, id] of [
    ['tokenizer.ggml.bos_token_id', c.bosTokenId],
    ['tokenizer.ggml.eos_token_id', c.eosTokenId],
  ] as const)
    if (id !== undefined && !tokenizer.some((e) => e.key === key)) tokenizer.push({ key, type: 'uint32', value: id });
  const replaced = new Set([...own, ...tokenizer].map((e) => e.key));
  const kept = source.filter((e) => !replaced.has(e.key) && keepSourceEntry(e.key, arch));
  const entries = [...own, ...kept, ...tokenizer];
  if (!entries.some((e) => e.key === 'general.name'))
    entries.splice(1, 0, { key: 'general.name', type: 'string', value: path.basename(model.path).replace(/\.(gguf|bin)$/, '') });
  return entries;
}

type Planned = GGUFTensorOut & { nbytes: number; produce: () => Promise<Uint8Array> };

/** Bytes of a tensor of `n` zeros (or float32 ones) in `dtype`. */
function constantBytes(n: number, dtype: TensorDType, ones: boolean): Uint8Array {
  if (!ones) return new Uint8Array(n * DTYPE_BYTES[dtype]);
  if (dtype !== 'f32') throw new ShapeError('constant ones are written as float32 only');
  return bytesOf(new Float32Array(n).fill(1));
}

/** GPT-2 biases llama.cpp requires that `model` lacks (GGUF names): written as zeros, which is what no bias means. */
function gpt2MissingBiases(model: LoadedModel): { name: string; shape: number[] }[] {
  const c = model.config;
  const has = (n: string) => model.tensors.has(n);
  const h = c.hiddenSize;
  const out: { name: string; shape: number[] }[] = [];
  if (!has('final_norm.bias')) out.push({ name: 'output_norm.bias', shape: [h] });
  for (let i = 0; i < c.numLayers; i++) {
    const p = `blocks.${i}.`;
    const qkv = ['q', 'k', 'v'].filter((x) => has(`${p}attn.${x}.bias`)).length;
    if (qkv === 0) out.push({ name: `blk.${i}.attn_qkv.bias`, shape: [(c.numHeads + 2 * c.numKvHeads) * c.headDim] });
    else if (qkv < 3)
      throw new NotImplementedError(`GGUF output of ${model.path}: block ${i} has some of the q/k/v biases but not all; llama.cpp's gpt2 reads them as one fused bias`);
    const sizes: [string, number][] = [['attn_norm.bias', h], ['attn.o.bias', h], ['mlp_norm.bias', h], ['mlp.fc1.bias', c.intermediateSize], ['mlp.fc2.bias', h]];
    for (const [rel, n] of sizes) if (!has(p + rel)) out.push({ name: ggufFromCanonical(p + rel, 'gpt2')!, shape: [n] });
  }
  return out;
}

/** Every tensor of the file, with how to produce its bytes. */
function planTensors(model: LoadedModel, arch: GGUFArch, main: TensorDType, opts: WriteOptions): Planned[] {
  const c = model.config;
  const layout = GGUF_ARCHES[arch].layout ?? 'interleaved';
  const out: Planned[] = [];
  let off = 0;
  const add = (name: string, shape: number[], dtype: TensorDType, produce: () => Promise<Uint8Array>) => {
    const nbytes = numelOf(shape) * DTYPE_BYTES[dtype];
    out.push({ name, shape, type: GGML_TYPE[dtype], offset: off, nbytes, produce });
    off = alignUp(off + nbytes);
  };
  const dtypeOf = (shape: number[]) => (shape.length === 1 ? 'f32' : (opts.dtype ?? main));
  const tensorDtype = (t: Tensor) => (t.shape.length === 1 ? 'f32' : (opts.dtype ?? t.dtype));
  const missingBiases = arch === 'gpt2' ? gpt2MissingBiases(model) : []; // first: it refuses partial q/k/v biases
  for (const t of model.tensors.values()) {
    const qkv = arch === 'gpt2' ? /^blocks\.(\d+)\.attn\.([qkv])\.(weight|bias)$/.exec(t.name) : null;
    if (qkv) {
      // GPT-2: q, k, v rows joined into one attn_qkv tensor, written where q is.
      if (qkv[2] !== 'q') continue;
      const parts = ['q', 'k', 'v'].map((x) => model.tensors.get(`blocks.${qkv[1]}.attn.${x}.${qkv[3]}`)!);
      const shape = [parts.reduce((a, p) => a + p.shape[0], 0), ...t.shape.slice(1)];
      const dtype = tensorDtype(t);
      add(`blk.${qkv[1]}.attn_qkv.${qkv[3]}`, shape, dtype, async () => {
        const bytes = await Promise.all(parts.map((p) => outputBytes(c, p, dtype, layout)));
        return new Uint8Array(Buffer.concat(bytes));
      });
      continue;
    }
    const name = ggufFromCanonical(t.name, arch);
    if (!name) throw new NotImplementedError(`tensor ${t.name} has no GGUF ${arch} equivalent`);
    const dtype = tensorDtype(t);
    add(name, t.shape, dtype, () => outputBytes(c, t, dtype, layout));
  }
  // Tensors llama.cpp needs that the model lacks, each exactly neutral.
  const constant = (name: string, shape: number[], ones: boolean) => {
    const dtype = dtypeOf(shape);
    add(name, shape, dtype, async () => constantBytes(numelOf(shape), dtype, ones));
  };
  if (arch === 'deci')
    deciBlocks(c).forEach((b, i) => {
      if (b.zeroAttention) for (const z of zeroSublayer(c, i, 'attention')) constant(ggufFromCanonical(z.name, arch)!, z.shape, z.ones);
      if (b.zeroMlp) for (const z of zeroSublayer(c, i, 'mlp')) constant(ggufFromCanonical(z.name, arch)!, z.shape, z.ones);
    });
  for (const z of missingBiases) constant(z.name, z.shape, false);
  if (c.rope?.scaling) {
    // llama.cpp keeps Llama-3 scaling as the frequency divisors themselves.
    const factors = llama3Factors(c.rope.theta, c.rope.dim, c.rope.scaling);
    add('rope_freqs.weight', [factors.length], 'f32', async () => bytesOf(factors));
  }
  return out;
}

export async function writeGGUF(model: LoadedModel, outFile: string, opts: WriteOptions = {}): Promise<void> {
  const c = model.config;
  const arch = chooseGGUFArch(model);
  const main = opts.dtype ?? model.tensors.get('embed.weight')?.dtype ?? 'f32';
  const infos = planTensors(model, arch, main, opts);
  let tokenizer = opts.tokenizer;
  if (tokenizer === undefined) {
    const d = await defaultTokenizer(model, 'gguf'); // 'keep': a GGUF source's entries, below
    if (d.how === 'convert') tokenizer = d.artifacts;
    else if (d.how === 'none') warnNoTokenizer(model, d.reason, opts.onWarning);
  }
  const own: GGUFEntry[] = [
    { key: 'general.architecture', type: 'string', value: arch },
    ...archEntries(c, arch, arch === 'deci' ? deciBlocks(c) : undefined),
    { key: 'general.file_type', type: 'uint32', value: FILE_TYPE[main] },
  ];
  const header = encodeGGUFHeader(metadata(model, arch, own, { ...opts, tokenizer }), infos);
  await writeAtomically(outFile, 'file', { force: opts.force, inputPath: model.path }, async (tmp) => {
    const fd = fs.openSync(tmp, 'wx');
    try {
      writeAll(fd, header);
      let pos = header.length;
      const pad = (to: number) => {
        if (to > pos) writeAll(fd, new Uint8Array(to - pos));
        pos = to;
      };
      const dataStart = alignUp(pos);
      for (const info of infos) {
        pad(dataStart + info.offset);
        const data = await info.produce();
        if (data.length !== info.nbytes) throw new ShapeError(`tensor ${info.name}: produced ${data.length} bytes, expected ${info.nbytes}`);
        writeAll(fd, data);
        pos += data.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}
