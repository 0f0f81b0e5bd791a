// Hugging Face model directories: config.json + model.safetensors, or shards listed in
// model.safetensors.index.json. Tensors are zero-copy views of the mapped shards, except
// GPT-2's Conv1D weights, which are transposed natively into canonical [out, in].
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError, fromNative } from '../errors';
import { LoadedModel, ModelConfig, Tensor, TokenizerSource } from '../model/types';
import { filesNative } from '../native/files';
import { configFromHF, hfConfigFields, hfTensorRole, positionRows } from './hf-config';
import { readJsonFile } from './json-bounds';
import { DTYPE_BYTES, MappedFile } from './mapped';
import { checkConfig, checkLayerCount, makeModel, TensorSet, withFiles } from './model';
import { parseSafetensors, SafetensorsEntry } from './safetensors';

/** The safetensors files of a model directory (one file, or the shards of the index). */
function shardFiles(dir: string): string[] {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    const map = readJsonFile(index).weight_map;
    if (typeof map !== 'object' || map === null) throw new FormatError(index, 'weight_map is missing');
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files)
      if (typeof f !== 'string' || f !== path.basename(f) || !f.endsWith('.safetensors'))
        throw new FormatError(index, `weight_map names an invalid shard ${JSON.stringify(f)}`);
    return (files as string[]).sort().map((f) => path.join(dir, f));
  }
  if (fs.existsSync(single)) return [single];
  throw new FormatError(dir, 'no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)');
}

export function hfTokenizer(dir: string): TokenizerSource {
  const tj = path.join(dir, 'tokenizer.json');
  const tc = path.join(dir, 'tokenizer_config.json');
  if (!fs.existsSync(tj)) return { kind: 'none', reason: `no tokenizer.json in ${dir}` };
  return fs.existsSync(tc) ? { kind: 'hf', tokenizerJsonPath: tj, tokenizerConfigPath: tc } : { kind: 'hf', tokenizerJsonPath: tj };
}

async function transposed(f: MappedFile, e: SafetensorsEntry, rows: number, cols: number): Promise<Float32Array | Uint16Array> {
  const src = f.tensorData(e.dtype, e.offset, e.numel, `tensor ${e.name}`);
  const out = e.dtype === 'f32' ? new Float32Array(e.numel) : new Uint16Array(e.numel);
  const bytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  try {
    await filesNative().transposeBytes(bytes(src), bytes(out), rows, cols, DTYPE_BYTES[e.dtype]);
  } catch (err) {
    throw new FormatError(f.path, `tensor ${e.name}: ${fromNative(err).message}`);
  }
  return out;
}

/** Llama MLP biases (mlp_bias; bias compensation adds down_proj's): [intermediate] for gate/up, [hidden] for down. */
function checkMlpBiases(dir: string, config: ModelConfig, tensors: Map<string, Tensor>): void {
  for (const [name, t] of tensors) {
    const m = /^blocks\.\d+\.mlp\.(gate|up|down)\.bias$/.exec(name);
    if (!m) continue;
    const want = m[1] === 'down' ? config.hiddenSize : config.intermediateSize;
    if (t.shape.length !== 1 || t.shape[0] !== want)
      throw new FormatError(dir, `tensor ${name} has shape [${t.shape.join(', ')}], expected [${want}] from the config`);
  }
}

/**
 * Llama-family biases that the stock class of config.json does not create (Llama without
 * attention_bias / mlp_bias, Mistral, Qwen2's o and MLP): transformers drops them when it
 * loads the model, so shears would compute another model. Refused rather than guessed.
 */
function checkBiasFlags(file: string, raw: Record<string, unknown>, config: ModelConfig, tensors: Map<string, Tensor>): void {
  if (config.architecture !== 'llama') return;
  for (const name of tensors.keys()) {
    const m = /^blocks\.\d+\.(attn\.([qkvo])|mlp\.(gate|up|down))\.bias$/.exec(name);
    if (!m) continue;
    const attn = m[2] !== undefined;
    const flag = attn ? 'attention_bias' : 'mlp_bias';
    const created =
      config.family === 'qwen2' ? attn && m[2] !== 'o' : config.family === 'mistral' ? false : raw[flag] === true;
    if (!created)
      throw new FormatError(
        file,
        `tensor ${name} is in the weights, but the stock ${config.family} class ${config.family === 'llama' ? `without ${flag}: true ` : ''}has no such bias ` +
          `(transformers would drop it)${config.family === 'llama' ? `: set ${flag}: true if the model has it, or remove the tensor` : ': remove the tensor'}`,
      );
  }
}

export async function readHF(dir: string): Promise<LoadedModel> {
  const configPath = path.join(dir, 'config.json');
  const raw = readJsonFile(configPath);
  const config = configFromHF(configPath, raw);
  const fields = hfConfigFields(config);
  checkConfig(configPath, config, fields);
  const shardPaths = shardFiles(dir);
  const files: MappedFile[] = [];
  return withFiles(files, async () => {
    const where = new Map<string, { f: MappedFile; e: SafetensorsEntry }>();
    for (const p of shardPaths) {
      const f = MappedFile.open(p);
      files.push(f);
      for (const e of parseSafetensors(f).entries.values()) {
        if (where.has(e.name)) throw new FormatError(p, `tensor ${e.name} is also in ${where.get(e.name)!.f.path}`);
        where.set(e.name, { f, e });
      }
    }
    // Before any tensor is built: a layer needs at least 6 tensors in the file (GPT-2 fuses q/k/v).
    checkLayerCount(configPath, config, where.size, 6, fields);
    const index = path.join(dir, 'model.safetensors.index.json');
    if (shardPaths.length > 1 || fs.existsSync(index)) {
      const map = readJsonFile(index).weight_map as Record<string, string>;
      for (const [name, shard] of Object.entries(map)) {
        const got = where.get(name);
        if (!got) throw new FormatError(path.join(dir, shard), `tensor ${name} listed in the index is not in this shard`);
        if (path.basename(got.f.path) !== shard) throw new FormatError(index, `tensor ${name} is in ${got.f.path}, not in ${shard}`);
      }
    }
    const set = new TensorSet(dir);
    const h = config.hiddenSize;
    for (const { f, e } of where.values()) {
      const role = hfTensorRole(config, e.name);
      if (!role) throw new FormatError(f.path, `unexpected tensor ${e.name} for model_type ${config.family}`);
      if (role.kind === 'ignore') continue;
      if (role.kind === 'direct') {
        set.add(role.name, e.dtype, e.shape.slice(), f.tensorData(e.dtype, e.offset, e.numel, `tensor ${e.name}`));
      } else if (role.kind === 'conv1d') {
        if (e.shape.length !== 2) throw new FormatError(f.path, `tensor ${e.name} must be 2-D, got [${e.shape.join(', ')}]`);
        const [inDim, outDim] = e.shape;
        set.add(role.name, e.dtype, [outDim, inDim], await transposed(f, e, inDim, outDim));
      } else {
        const b = `blocks.${role.layer}.attn.`;
        if (role.part === 'weight') {
          if (e.shape.length !== 2 || e.shape[0] !== h || e.shape[1] !== 3 * h)
            throw new FormatError(f.path, `tensor ${e.name} has shape [${e.shape.join(', ')}], expected [${h}, ${3 * h}]`);
          const t = await transposed(f, e, h, 3 * h); // [3h, h]: q, k, v rows one after the other
          ['q', 'k', 'v'].forEach((p, i) => set.add(`${b}${p}.weight`, e.dtype, [h, h], t.subarray(i * h * h, (i + 1) * h * h)));
        } else {
          if (e.shape.length !== 1 || e.shape[0] !== 3 * h)
            throw new FormatError(f.path, `tensor ${e.name} has shape [${e.shape.join(', ')}], expected [${3 * h}]`);
          const t = f.tensorData(e.dtype, e.offset, e.numel, `tensor ${e.name}`);
          ['q', 'k', 'v'].forEach((p, i) => set.add(`${b}${p}.bias`, e.dtype, [h], t.subarray(i * h, (i + 1) * h)));
        }
      }
    }
    checkMlpBiases(dir, config, set.map);
    checkBiasFlags(configPath, raw, config, set.map);
    const pos = set.map.get('pos_embed.weight') as Tensor | undefined;
    if (pos && (pos.shape.length !== 2 || pos.shape[0] < positionRows(config) || pos.shape[1] !== h))
      throw new FormatError(dir, `tensor pos_embed.weight has shape [${pos.shape.join(', ')}], expected [${positionRows(config)}, ${h}]`);
    return makeModel({
      format: 'hf',
      path: dir,
      config,
      tensors: set.map,
      tokenizer: hfTokenizer(dir),
      meta: { hfConfig: raw, modelType: raw.model_type, safetensorsFiles: shardPaths.map((p) => path.basename(p)) },
      files,
      fields,
    });
  });
}
