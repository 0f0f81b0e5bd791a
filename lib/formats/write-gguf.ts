// Writes a Llama-family LoadedModel as a GGUF v3 file, streaming tensor data. Qwen2
// becomes llama.cpp's 'qwen2' architecture (Q/K in rotate-half order, with its q/k/v
// biases); everything else 'llama' (Q/K permuted to the interleaved order). Metadata: a
// GGUF source's own entries are kept (the architecture keys regenerated from the config);
// tokenizer entries come from opts.tokenizer, else the model's own (kept from a GGUF
// source, converted from others: lib/formats/tokenizer-out.ts). 1-D tensors
// (norms, biases) stay float32, as llama.cpp expects.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NotImplementedError, ShapeError } from '../errors';
import { GGUFEntry, LoadedModel, TensorDType } from '../model/types';
import { writeAll, writeAtomically } from './atomic';
import { encodeGGUFHeader, GGUFTensorOut } from './gguf-encode';
import { GGUF_ARCHES, ggufFromCanonical } from './gguf-reader';
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

function metadata(model: LoadedModel, arch: string, dtype: TensorDType, opts: WriteOptions): GGUFEntry[] {
  const c = model.config;
  const own: GGUFEntry[] = [
    { key: 'general.architecture', type: 'string', value: arch },
    { key: `${arch}.context_length`, type: 'uint32', value: c.contextLength },
    { key: `${arch}.embedding_length`, type: 'uint32', value: c.hiddenSize },
    { key: `${arch}.block_count`, type: 'uint32', value: c.numLayers },
    { key: `${arch}.feed_forward_length`, type: 'uint32', value: c.intermediateSize },
    { key: `${arch}.rope.dimension_count`, type: 'uint32', value: c.rope!.dim },
    { key: `${arch}.rope.freq_base`, type: 'float32', value: c.rope!.theta },
    { key: `${arch}.attention.head_count`, type: 'uint32', value: c.numHeads },
    { key: `${arch}.attention.head_count_kv`, type: 'uint32', value: c.numKvHeads },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: 'float32', value: c.normEps },
    { key: 'general.file_type', type: 'uint32', value: FILE_TYPE[dtype] },
  ];
  if (c.rope!.scaling)
    own.push({ key: `${arch}.rope.scaling.original_context_length`, type: 'uint32', value: c.rope!.scaling.originalContextLength });
  if (c.headDim !== c.hiddenSize / c.numHeads) {
    own.push({ key: `${arch}.attention.key_length`, type: 'uint32', value: c.headDim });
    own.push({ key: `${arch}.attention.value_length`, type: 'uint32', value: c.headDim });
  }
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
  replaced.add('general.alignment'); // this writer always aligns to 32
  const kept = source.filter((e) => !replaced.has(e.key) && !e.key.startsWith('tokenizer.'));
  const entries = [...own, ...kept, ...tokenizer];
  if (!entries.some((e) => e.key === 'general.name'))
    entries.splice(1, 0, { key: 'general.name', type: 'string', value: path.basename(model.path).replace(/\.(gguf|bin)$/, '') });
  return entries;
}

export async function writeGGUF(model: LoadedModel, outFile: string, opts: WriteOptions = {}): Promise<void> {
  const c = model.config;
  if (c.architecture !== 'llama' || !c.rope)
    throw new NotImplementedError(`GGUF output supports the Llama family (llama, mistral, qwen2); ${model.path} is ${c.family}`);
  const arch = c.family === 'qwen2' ? 'qwen2' : 'llama';
  const layout = GGUF_ARCHES[arch].layout;
  const infos: (GGUFTensorOut & { nbytes: number; produce: () => Promise<Uint8Array> })[] = [];
  let off = 0;
  const add = (name: string, shape: number[], dtype: TensorDType, produce: () => Promise<Uint8Array>) => {
    const nbytes = numelOf(shape) * DTYPE_BYTES[dtype];
    infos.push({ name, shape, type: GGML_TYPE[dtype], offset: off, nbytes, produce });
    off = alignUp(off + nbytes);
  };
  for (const t of model.tensors.values()) {
    const name = ggufFromCanonical(t.name);
    if (!name) throw new NotImplementedError(`tensor ${t.name} has no GGUF ${arch} equivalent`);
    const dtype = t.shape.length === 1 ? 'f32' : (opts.dtype ?? t.dtype);
    add(name, t.shape, dtype, () => outputBytes(c, t, dtype, layout));
  }
  if (c.rope.scaling) {
    // llama.cpp keeps Llama-3 scaling as the frequency divisors themselves.
    const factors = llama3Factors(c.rope.theta, c.rope.dim, c.rope.scaling);
    add('rope_freqs.weight', [factors.length], 'f32', async () => bytesOf(factors));
  }
  const main = opts.dtype ?? model.tensors.get('embed.weight')?.dtype ?? 'f32';
  let tokenizer = opts.tokenizer;
  if (tokenizer === undefined) {
    const d = await defaultTokenizer(model, 'gguf'); // 'keep': a GGUF source's entries, below
    if (d.how === 'convert') tokenizer = d.artifacts;
    else if (d.how === 'none') warnNoTokenizer(model, d.reason, opts.onWarning);
  }
  const header = encodeGGUFHeader(metadata(model, arch, main, { ...opts, tokenizer }), infos);
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
