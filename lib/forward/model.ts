// The forward pass of a loaded model, one stage at a time, as the pruning pipeline
// drives it: embed the tokens, run block i over the hidden states in place (optionally
// recording what each linear layer received), then the final norm + LM head as
// per-position NLL or logits. All numeric work is native and runs off the JavaScript
// thread; do not touch an array from JavaScript while an operation on it is pending.
//
// Weights are read from the tensors map at every call, so replacing a tensor
// (setTensor, or writing into the map) takes effect on the next call: the pipeline
// swaps a block's weights for pruned copies that way.
import { ArgumentRangeError, nativeCall, ShapeError } from '../errors';
import { blockShape, checkBlockShapes } from '../model/shapes';
import { ModelConfig, Tensor } from '../model/types';
import { NativeBackend } from '../native/kernels';
import { forwardNative, NativeBlockSpec, NativeCaptures, NativeHeadSpec, NativeKv, NativeNorm } from '../native/forward';
import { checkTypedArray } from '../tensor';
import { BlockCaptures, CAPTURE_NAMES, CaptureName, captureWidths } from './captures';
import { asMatrix, asTable, asVector } from './tensors';

/** What the forward pass needs of a LoadedModel (lib/model/types.ts). */
export interface ForwardSource {
  config: ModelConfig;
  tensors: Map<string, Tensor>;
}

export { CAPTURE_NAMES } from './captures';
export type { BlockCaptures, CaptureName } from './captures';

export interface RunBlockOptions {
  batch: number;
  seq: number;
  capture?: BlockCaptures;
  /** Earlier positions of the sequences (generation): the block reads and extends it. */
  cache?: KvCache;
}

/**
 * Keys and values of the positions already processed, per block, for `batch`
 * sequences of up to `capacity` tokens. forwardCached() fills it and advances
 * `length`; runBlock with `cache` uses positions [length, length + seq).
 */
export class KvCache {
  length = 0;
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  readonly layers: number;
  /**
   * `widths`: floats per position of each block's keys (KV heads x head dimension; blocks
   * may differ, 0 for a block without attention).
   */
  constructor(
    readonly widths: readonly number[],
    readonly batch: number,
    readonly capacity: number,
  ) {
    this.layers = widths.length;
    this.k = widths.map((w) => new Float32Array(batch * capacity * w));
    this.v = widths.map((w) => new Float32Array(batch * capacity * w));
  }
}

export interface NllResult {
  /** Per-position NLL of the target (NaN where the target is -1). */
  nll: Float32Array;
  /** Sum and count over the positions with a target, and their mean. */
  sum: number;
  count: number;
  mean: number;
}

export interface ForwardModelOptions {
  /**
   * 'auto' (default): CUDA when the native forward pass has it and a device answers,
   * else the CPU; 'cpu'; 'cuda' (rejects with a BackendError where it cannot run).
   * lib/backend.ts planBackend() resolves a user's choice to an explicit device.
   */
  backend?: NativeBackend;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentRangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

export class ForwardModel {
  readonly tensors: Map<string, Tensor>;
  private readonly opts: { backend: NativeBackend };

  constructor(
    private readonly source: ForwardSource,
    options: ForwardModelOptions = {},
  ) {
    this.tensors = source.tensors;
    this.opts = { backend: options.backend ?? 'auto' };
    const c = this.config;
    for (const k of ['hiddenSize', 'numLayers', 'headDim', 'vocabSize'] as const) positiveInt(c[k], `config.${k}`);
    for (const k of ['intermediateSize', 'numHeads', 'numKvHeads'] as const)
      if (!Number.isInteger(c[k]) || c[k] < 0) throw new ArgumentRangeError(`config.${k} must be an integer >= 0, got ${String(c[k])}`);
    checkBlockShapes(c, 'config.blocks');
    for (let i = 0; i < c.numLayers; i++) {
      const b = blockShape(c, i);
      if (b.numHeads > 0 && (b.numKvHeads === 0 || b.numHeads % b.numKvHeads !== 0))
        throw new ShapeError(`block ${i}: numHeads (${b.numHeads}) must be a multiple of numKvHeads (${b.numKvHeads})`);
    }
  }

  /**
   * The model's description, read from the source at every call: structured surgery
   * (lib/prune/surgery.ts) replaces it together with the tensors it reshapes.
   */
  get config(): ModelConfig {
    return this.source.config;
  }

  /** The backend every native call of this model is given. */
  get backend(): NativeBackend {
    return this.opts.backend;
  }

  get numLayers(): number {
    return this.config.numLayers;
  }

  /** The tensor called `name`; throws ShapeError when the model lacks it. */
  tensor(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new ShapeError(`model has no tensor ${name}`);
    return t;
  }

  /** Replaces a tensor (same shape as the one it replaces, when there was one). */
  setTensor(name: string, t: Tensor): void {
    const old = this.tensors.get(name);
    if (old && (old.shape.length !== t.shape.length || old.shape.some((d, i) => d !== t.shape[i])))
      throw new ShapeError(`tensor ${name}: new shape [${t.shape.join(', ')}] differs from [${old.shape.join(', ')}]`);
    this.tensors.set(name, t);
  }

  /**
   * Checks every tensor the forward pass will read (names, shapes, dtypes) and throws
   * the first problem, naming the tensor: for an early, clear error before long runs.
   */
  validate(): void {
    const c = this.config;
    asTable(this.tensor('embed.weight'), 'embed.weight', c.hiddenSize);
    if (c.rope === null) asTable(this.tensor('pos_embed.weight'), 'pos_embed.weight', c.hiddenSize);
    for (let i = 0; i < c.numLayers; ++i) this.blockSpec(i);
    this.headSpec();
  }

  /** Number of floats each capture buffer of block `block` needs for `tokens` rows. */
  captureSizes(tokens: number, block = 0): Record<CaptureName, number> {
    const w = captureWidths(this.config, block);
    return Object.fromEntries(CAPTURE_NAMES.map((k) => [k, tokens * w[k]])) as Record<CaptureName, number>;
  }

  /** Fresh capture buffers of block `block` for `tokens` rows (all four, or the ones named). */
  allocCaptures(tokens: number, which: readonly CaptureName[] = CAPTURE_NAMES, block = 0): BlockCaptures {
    const sizes = this.captureSizes(tokens, block);
    const out: BlockCaptures = {};
    for (const k of which) out[k] = new Float32Array(sizes[k]);
    return out;
  }

  /** A KV cache for generation: `batch` sequences of up to `capacity` tokens. */
  createCache(capacity: number, batch = 1): KvCache {
    positiveInt(capacity, 'capacity');
    positiveInt(batch, 'batch');
    const c = this.config;
    const widths = Array.from({ length: c.numLayers }, (_, i) => blockShape(c, i).numKvHeads * c.headDim);
    return new KvCache(widths, batch, capacity);
  }

  /**
   * Hidden states [batch*seq, hiddenSize] of the token embeddings (plus learned
   * positions, from position `start` on: the length of a KV cache when continuing).
   */
  async embed(tokens: Int32Array | readonly number[], batch: number, seq: number, start = 0): Promise<Float32Array> {
    positiveInt(batch, 'batch');
    positiveInt(seq, 'seq');
    const ids = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    if (ids.length !== batch * seq) throw new ShapeError(`tokens has ${ids.length} ids, expected batch*seq = ${batch * seq}`);
    const c = this.config;
    const table = asTable(this.tensor('embed.weight'), 'embed.weight', c.hiddenSize);
    const pos = c.rope === null ? asTable(this.tensor('pos_embed.weight'), 'pos_embed.weight', c.hiddenSize) : null;
    const out = new Float32Array(ids.length * c.hiddenSize);
    await nativeCall(() => forwardNative().fwdEmbed(ids, seq, table, pos, c.positionOffset ?? 0, out, { ...this.opts, start }));
    return out;
  }

  /** Runs block i over `hidden` [batch*seq, hiddenSize] in place. */
  async runBlock(i: number, hidden: Float32Array, options: RunBlockOptions): Promise<void> {
    const { batch, seq, capture, cache } = options;
    positiveInt(batch, 'batch');
    positiveInt(seq, 'seq');
    const tokens = batch * seq;
    checkTypedArray(hidden, 'Float32Array', tokens * this.config.hiddenSize, 'hidden');
    let caps: NativeCaptures | null = null;
    if (capture) {
      const sizes = this.captureSizes(tokens, i);
      caps = {};
      for (const k of CAPTURE_NAMES) {
        const buf = capture[k];
        if (buf === undefined) continue;
        checkTypedArray(buf, 'Float32Array', sizes[k], `capture.${k}`);
        caps[k] = buf;
      }
    }
    const spec = this.blockSpec(i);
    let kv: NativeKv | undefined;
    if (cache) {
      if (cache.batch !== batch) throw new ShapeError(`KV cache holds ${cache.batch} sequences, the batch has ${batch}`);
      kv = { k: cache.k[i], v: cache.v[i], capacity: cache.capacity, start: cache.length };
    }
    await nativeCall(() => forwardNative().fwdBlock(spec, hidden, batch, seq, caps, { ...this.opts, kv }));
  }

  /** Per-position NLL of targets[r] (-1: none) given hidden row r, through final norm + LM head. */
  async nll(hidden: Float32Array, targets: Int32Array | readonly number[]): Promise<NllResult> {
    const t = targets instanceof Int32Array ? targets : Int32Array.from(targets);
    const rows = t.length;
    positiveInt(rows, 'number of targets');
    checkTypedArray(hidden, 'Float32Array', rows * this.config.hiddenSize, 'hidden');
    const out = new Float32Array(rows);
    const head = this.headSpec();
    const { sum, count } = await nativeCall(() => forwardNative().fwdNll(head, hidden, rows, t, out, this.opts));
    return { nll: out, sum, count, mean: count > 0 ? sum / count : NaN };
  }

  /** Logits [rows, vocab] of the hidden rows. */
  async logits(hidden: Float32Array, rows?: number): Promise<Float32Array> {
    const h = this.config.hiddenSize;
    const n = rows ?? hidden.length / h;
    positiveInt(n, 'rows');
    checkTypedArray(hidden, 'Float32Array', n * h, 'hidden');
    const head = this.headSpec();
    const out = new Float32Array(n * head.lm.rows);
    await nativeCall(() => forwardNative().fwdLogits(head, hidden, n, out, this.opts));
    return out;
  }

  /** Hidden states after every block (before the final norm). */
  async forward(tokens: Int32Array | readonly number[], batch: number, seq: number): Promise<Float32Array> {
    const hidden = await this.embed(tokens, batch, seq);
    for (let i = 0; i < this.config.numLayers; ++i) await this.runBlock(i, hidden, { batch, seq });
    return hidden;
  }

  /**
   * Continues the sequences in `cache` with `seq` more tokens each (batch = cache.batch):
   * the hidden states of the new tokens after every block; advances cache.length.
   */
  async forwardCached(tokens: Int32Array | readonly number[], cache: KvCache): Promise<Float32Array> {
    const batch = cache.batch;
    const seq = tokens.length / batch;
    positiveInt(seq, 'tokens per sequence');
    if (cache.length + seq > cache.capacity)
      throw new ArgumentRangeError(`KV cache of ${cache.capacity} positions has ${cache.capacity - cache.length} left, ${seq} needed`);
    const hidden = await this.embed(tokens, batch, seq, cache.length);
    for (let i = 0; i < this.config.numLayers; ++i) await this.runBlock(i, hidden, { batch, seq, cache });
    cache.length += seq;
    return hidden;
  }

  private norm(prefix: string, required: boolean): NativeNorm | null {
    const c = this.config;
    const w = this.tensors.get(`${prefix}.weight`);
    if (!w) {
      if (required) throw new ShapeError(`model has no tensor ${prefix}.weight`);
      return null;
    }
    const b = this.tensors.get(`${prefix}.bias`);
    return {
      kind: c.norm,
      eps: c.normEps,
      weight: asVector(w, `${prefix}.weight`, c.hiddenSize),
      bias: b ? asVector(b, `${prefix}.bias`, c.hiddenSize) : null,
    };
  }

  private bias(name: string, n: number) {
    const t = this.tensors.get(name);
    return t ? asVector(t, name, n) : null;
  }

  /** The native description of block i, from the tensors as they are now. */
  blockSpec(i: number): NativeBlockSpec {
    const c = this.config;
    if (!Number.isInteger(i) || i < 0 || i >= c.numLayers)
      throw new ArgumentRangeError(`block index must be an integer in [0, ${c.numLayers}), got ${String(i)}`);
    const p = `blocks.${i}`;
    const shape = blockShape(c, i);
    const H = c.hiddenSize, I = shape.intermediateSize, qd = shape.numHeads * c.headDim, kd = shape.numKvHeads * c.headDim;
    const attn = shape.numHeads > 0;
    const mlp = I > 0;
    const m = (name: string, rows: number, cols: number) => asMatrix(this.tensor(`${p}.${name}.weight`), `${p}.${name}.weight`, rows, cols);
    const gated = this.tensors.has(`${p}.mlp.gate.weight`);
    const up = gated ? 'mlp.up' : 'mlp.fc1';
    const down = gated ? 'mlp.down' : 'mlp.fc2';
    const rope = c.rope
      ? {
          layout: c.rope.layout,
          theta: c.rope.theta,
          dim: c.rope.dim,
          scaling: c.rope.scaling
            ? {
                factor: c.rope.scaling.factor,
                lowFreqFactor: c.rope.scaling.lowFreqFactor,
                highFreqFactor: c.rope.scaling.highFreqFactor,
                originalContextLength: c.rope.scaling.originalContextLength,
              }
            : null,
        }
      : null;
    // A removed sublayer (0 heads, or 0 MLP width) has no tensors: nothing is read for it.
    return {
      hidden: H,
      heads: shape.numHeads,
      kvHeads: shape.numKvHeads,
      headDim: c.headDim,
      intermediate: I,
      activation: c.activation,
      preNorm: c.preNorm,
      rope,
      attnNorm: attn ? this.norm(`${p}.attn_norm`, true) : null,
      mlpNorm: mlp ? this.norm(`${p}.mlp_norm`, true) : null,
      q: attn ? m('attn.q', qd, H) : null,
      k: attn ? m('attn.k', kd, H) : null,
      v: attn ? m('attn.v', kd, H) : null,
      o: attn ? m('attn.o', H, qd) : null,
      qBias: attn ? this.bias(`${p}.attn.q.bias`, qd) : null,
      kBias: attn ? this.bias(`${p}.attn.k.bias`, kd) : null,
      vBias: attn ? this.bias(`${p}.attn.v.bias`, kd) : null,
      oBias: attn ? this.bias(`${p}.attn.o.bias`, H) : null,
      gate: mlp && gated ? m('mlp.gate', I, H) : null,
      gateBias: mlp && gated ? this.bias(`${p}.mlp.gate.bias`, I) : null,
      up: mlp ? m(up, I, H) : null,
      upBias: mlp ? this.bias(`${p}.${up}.bias`, I) : null,
      down: mlp ? m(down, H, I) : null,
      downBias: mlp ? this.bias(`${p}.${down}.bias`, H) : null,
    };
  }

  /** Final norm (absent in post-norm OPT) and LM head (embed.weight when tied or absent). */
  headSpec(): NativeHeadSpec {
    const c = this.config;
    const lmName = this.tensors.has('lm_head.weight') ? 'lm_head.weight' : 'embed.weight';
    return { norm: this.norm('final_norm', false), lm: asMatrix(this.tensor(lmName), lmName, c.vocabSize, c.hiddenSize) };
  }
}
