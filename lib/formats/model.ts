// Assembling a LoadedModel: tensor bookkeeping shared by every reader.
import { FormatError } from '../errors';
import { blockShape, checkBlockShapes } from '../model/shapes';
import { LoadedModel, ModelConfig, Tensor, TensorDType } from '../model/types';
import { MappedFile } from './mapped';

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Canonical tensors being collected; duplicate names and wrong lengths are format errors. */
export class TensorSet {
  readonly map = new Map<string, Tensor>();
  constructor(readonly file: string) {}

  add(name: string, dtype: TensorDType, shape: number[], data: Float32Array | Uint16Array): void {
    if (this.map.has(name)) throw new FormatError(this.file, `tensor ${name} appears twice`);
    if (data.length !== numelOf(shape))
      throw new FormatError(this.file, `tensor ${name}: shape [${shape.join(', ')}] does not match its ${data.length} elements`);
    this.map.set(name, { name, dtype, shape, data });
  }
}

/** The shapes every canonical tensor must have for `config` (name -> shape). */
export function expectedShapes(c: ModelConfig, names: Iterable<string>): Map<string, number[]> {
  const h = c.hiddenSize;
  const out = new Map<string, number[]>();
  for (const name of names) {
    const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
    const key = m ? m[2] : name;
    // Per-block widths (config.blocks): a block's tensors take its own.
    const b = blockShape(c, m && Number(m[1]) < c.numLayers ? Number(m[1]) : 0);
    const q = b.numHeads * c.headDim;
    const kv = b.numKvHeads * c.headDim;
    const f = b.intermediateSize;
    const shape: Record<string, number[]> = {
      'embed.weight': [c.vocabSize, h],
      'lm_head.weight': [c.vocabSize, h],
      'final_norm.weight': [h],
      'final_norm.bias': [h],
      'attn_norm.weight': [h],
      'attn_norm.bias': [h],
      'mlp_norm.weight': [h],
      'mlp_norm.bias': [h],
      'attn.q.weight': [q, h],
      'attn.k.weight': [kv, h],
      'attn.v.weight': [kv, h],
      'attn.o.weight': [h, q],
      'attn.q.bias': [q],
      'attn.k.bias': [kv],
      'attn.v.bias': [kv],
      'attn.o.bias': [h],
      'mlp.gate.weight': [f, h],
      'mlp.up.weight': [f, h],
      'mlp.down.weight': [h, f],
      'mlp.fc1.weight': [f, h],
      'mlp.fc1.bias': [f],
      'mlp.fc2.weight': [h, f],
      'mlp.fc2.bias': [h],
    };
    if (key === 'pos_embed.weight') continue; // row count depends on the family (checked by its reader)
    if (shape[key]) out.set(name, shape[key]);
  }
  return out;
}

/** What the source calls the config numbers (num_hidden_layers, llama.block_count...), for error messages. */
export type ConfigFields = Partial<Record<keyof ModelConfig | 'ropeTheta' | 'ropeDim', string>>;

function label(what: string, fields: ConfigFields, key: keyof ConfigFields): string {
  return fields[key] ? `${what} (${fields[key]})` : what;
}

/** Canonical tensors every layer has: norms, q/k/v/o and the MLP (9 for SwiGLU, 8 with fc1/fc2). */
function tensorsPerLayer(c: ModelConfig): number {
  return c.architecture === 'llama' ? 9 : 8;
}

/** The layer count against the tensors there are (`perLayer` at least per layer), before anything is built per layer. */
export function checkLayerCount(file: string, c: ModelConfig, tensorCount: number, perLayer: number, fields: ConfigFields = {}): void {
  if (c.numLayers > Math.floor(tensorCount / perLayer))
    throw new FormatError(file, `${label('layers', fields, 'numLayers')} = ${c.numLayers}, but the model holds ${tensorCount} tensors (each layer needs ${perLayer})`);
}

/**
 * Checks presence and shape of the tensors a config implies, given only their shapes (so
 * a reader can check before it touches or converts any data). The layer count is checked
 * against the number of tensors first: no per-layer name is built for layers that cannot exist.
 */
export function checkTensorShapes(file: string, c: ModelConfig, shapes: Map<string, readonly number[]>, fields: ConfigFields = {}): void {
  // Per-block widths come from arrays the file holds (bounded by its size); a block
  // without attention or MLP has none of its tensors.
  if (c.blocks === undefined) checkLayerCount(file, c, shapes.size, tensorsPerLayer(c), fields);
  const required = ['embed.weight', c.tiedEmbeddings ? '' : 'lm_head.weight', 'final_norm.weight'].filter(Boolean);
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blocks.${i}.`;
    const shape = blockShape(c, i);
    if (shape.numHeads > 0) required.push(`${b}attn_norm.weight`, `${b}attn.q.weight`, `${b}attn.k.weight`, `${b}attn.v.weight`, `${b}attn.o.weight`);
    if (shape.intermediateSize === 0) continue;
    required.push(`${b}mlp_norm.weight`);
    if (c.architecture === 'llama') required.push(`${b}mlp.gate.weight`, `${b}mlp.up.weight`, `${b}mlp.down.weight`);
    else required.push(`${b}mlp.fc1.weight`, `${b}mlp.fc2.weight`);
  }
  if (c.rope === null) required.push('pos_embed.weight');
  for (const n of required) if (!shapes.has(n)) throw new FormatError(file, `missing tensor ${n}`);
  const embed = shapes.get('embed.weight')!;
  if (embed.length === 2 && embed[0] !== c.vocabSize)
    throw new FormatError(file, `tensor embed.weight has ${embed[0]} rows but ${label('the vocabulary size', fields, 'vocabSize')} is ${c.vocabSize}`);
  for (const [name, shape] of expectedShapes(c, shapes.keys())) {
    const t = shapes.get(name)!;
    if (t.length !== shape.length || t.some((d, i) => d !== shape[i]))
      throw new FormatError(file, `tensor ${name} has shape [${t.join(', ')}], expected [${shape.join(', ')}] from the config`);
  }
  for (const name of shapes.keys()) {
    const m = /^blocks\.(\d+)\.(attn|mlp)/.exec(name) ?? /^blocks\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= c.numLayers) throw new FormatError(file, `tensor ${name} is past the ${c.numLayers} layers of the config`);
    const shape = m ? blockShape(c, Number(m[1])) : undefined;
    if (shape && ((m![2] === 'attn' && shape.numHeads === 0) || (m![2] === 'mlp' && shape.intermediateSize === 0)))
      throw new FormatError(file, `tensor ${name} belongs to a sublayer block ${m![1]} does not have (its width is 0)`);
  }
}

/** Checks presence and shape of the tensors a config implies. */
export function checkTensors(file: string, c: ModelConfig, tensors: Map<string, Tensor>, fields: ConfigFields = {}): void {
  checkTensorShapes(file, c, new Map([...tensors].map(([n, t]) => [n, t.shape])), fields);
}

/** Largest size, count or length a config may give (2^30; real models stay below 2^18). */
export const MAX_CONFIG_INT = 1 << 30;

/** Checks the numbers of a config (from any source) before they size anything. */
export function checkConfig(file: string, c: ModelConfig, fields: ConfigFields = {}): void {
  const ints: [string, keyof ConfigFields, number][] = [
    ['hidden size', 'hiddenSize', c.hiddenSize],
    ['intermediate size', 'intermediateSize', c.intermediateSize],
    ['layers', 'numLayers', c.numLayers],
    ['heads', 'numHeads', c.numHeads],
    ['kv heads', 'numKvHeads', c.numKvHeads],
    ['head dim', 'headDim', c.headDim],
    ['vocab size', 'vocabSize', c.vocabSize],
    ['context length', 'contextLength', c.contextLength],
  ];
  // With per-block widths the model-wide ones are their maxima (0 when every block lost that sublayer).
  const widths = new Set<string>(c.blocks ? ['intermediateSize', 'numHeads', 'numKvHeads'] : []);
  for (const [what, key, v] of ints)
    if (!Number.isSafeInteger(v) || v < (widths.has(key) ? 0 : 1) || v > MAX_CONFIG_INT)
      throw new FormatError(file, `${label(what, fields, key)} must be a positive integer at most 2^30, got ${String(v)}`);
  if (c.blocks) {
    try {
      checkBlockShapes(c, 'per-block widths');
    } catch (e) {
      throw new FormatError(file, (e as Error).message);
    }
  } else if (c.numHeads % c.numKvHeads !== 0)
    throw new FormatError(
      file,
      `heads (${c.numHeads}) must be a multiple of kv heads (${c.numKvHeads})${fields.numHeads ? ` (${fields.numHeads}, ${fields.numKvHeads ?? 'kv heads'})` : ''}`,
    );
  if (!(Number.isFinite(c.normEps) && c.normEps > 0 && c.normEps < 1))
    throw new FormatError(file, `${label('norm epsilon', fields, 'normEps')} must be in (0, 1), got ${c.normEps}`);
  if (c.rope) {
    if (!(Number.isFinite(c.rope.theta) && c.rope.theta > 0))
      throw new FormatError(file, `${label('rope theta', fields, 'ropeTheta')} must be positive, got ${c.rope.theta}`);
    if (!Number.isInteger(c.rope.dim) || c.rope.dim < 2 || c.rope.dim > c.headDim || c.rope.dim % 2 !== 0)
      throw new FormatError(file, `${label('rope dimension', fields, 'ropeDim')} must be even and at most the head dim ${c.headDim}, got ${c.rope.dim}`);
  }
  // Token ids index the embedding: one outside the vocabulary would read past it.
  for (const [what, key, id] of [['bos token id', 'bosTokenId', c.bosTokenId], ['eos token id', 'eosTokenId', c.eosTokenId]] as const)
    if (id !== undefined && (!Number.isSafeInteger(id) || id < 0 || id >= c.vocabSize))
      throw new FormatError(file, `${label(what, fields, key)} ${String(id)} is outside the ${c.vocabSize}-token vocabulary`);
}

export function makeModel(args: Omit<LoadedModel, 'close'> & { files: MappedFile[]; fields?: ConfigFields }): LoadedModel {
  checkConfig(args.path, args.config, args.fields);
  checkTensors(args.path, args.config, args.tensors, args.fields);
  let closed = false;
  return {
    format: args.format,
    path: args.path,
    config: args.config,
    tensors: args.tensors,
    tokenizer: args.tokenizer,
    meta: args.meta,
    close() {
      if (closed) return;
      closed = true;
      for (const f of args.files) f.close();
    },
  };
}

/** Runs `build` and closes the mapped files if it throws. */
export async function withFiles<T>(files: MappedFile[], build: () => Promise<T> | T): Promise<T> {
  try {
    return await build();
  } catch (e) {
    for (const f of files) f.close();
    throw e;
  }
}
