// The next-token loss of a model and its gradient with respect to every parameter the
// forward pass reads, in one native call off the JavaScript thread
// (native/cpu/bwd_model.h: block-wise checkpointing, deterministic for any thread
// count). Weights may be stored f32, f16 or bf16; gradients are always float32.
import { ArgumentRangeError, NonFiniteError, ShapeError, nativeCall } from '../errors';
import { ForwardModel } from '../forward/model';
import { asTable } from '../forward/tensors';
import { LoadedModel } from '../model/types';
import { BackwardOptions, backwardNative, NativeBlockGrads, NativeBlockMoments, NativeModelGrads, NativeModelSpec } from '../native/backward';
import { NativeBlockSpec } from '../native/forward';

export interface GradientResult {
  /** Mean next-token NLL over the batch * (seq - 1) predictions (position t predicts token t+1 of the same sequence); with teacherLogits, the mean KL(teacher || model) over the same rows. */
  loss: number;
  /** dLoss/dParameter for every parameter tensor of the model, by canonical name, float32, in the tensor's own layout (row-major, same shape). */
  grads: Map<string, Float32Array>;
}

type GradKey = keyof NativeBlockGrads & keyof NativeBlockSpec;

/** Each gradient key of a block with the tensor name it belongs to (`up`/`down` are fc1/fc2 in ungated MLPs). */
function blockTensorNames(prefix: string, gated: boolean): Record<GradKey, string> {
  const up = gated ? 'mlp.up' : 'mlp.fc1';
  const down = gated ? 'mlp.down' : 'mlp.fc2';
  return {
    q: `${prefix}.attn.q.weight`,
    k: `${prefix}.attn.k.weight`,
    v: `${prefix}.attn.v.weight`,
    o: `${prefix}.attn.o.weight`,
    qBias: `${prefix}.attn.q.bias`,
    kBias: `${prefix}.attn.k.bias`,
    vBias: `${prefix}.attn.v.bias`,
    oBias: `${prefix}.attn.o.bias`,
    gate: `${prefix}.mlp.gate.weight`,
    gateBias: `${prefix}.mlp.gate.bias`,
    up: `${prefix}.${up}.weight`,
    upBias: `${prefix}.${up}.bias`,
    down: `${prefix}.${down}.weight`,
    downBias: `${prefix}.${down}.bias`,
  };
}

function checkTokens(tokens: ArrayLike<number>, batch: number, seq: number, vocab: number): Int32Array {
  for (const [v, name] of [
    [batch, 'batch'],
    [seq, 'seq'],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new ArgumentRangeError(`${name} must be a positive integer, got ${String(v)}`);
  if (seq < 2) throw new ArgumentRangeError(`seq must be at least 2 (the loss predicts token t+1 from position t), got ${seq}`);
  if (tokens.length !== batch * seq) throw new ShapeError(`tokens has ${tokens.length} ids, expected batch*seq = ${batch}*${seq} = ${batch * seq}`);
  const ids = new Int32Array(tokens.length);
  for (let i = 0; i < tokens.length; ++i) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocab)
      throw new ArgumentRangeError(`token id ${String(t)} at position ${i} is outside the vocabulary [0, ${vocab})`);
    ids[i] = t;
  }
  return ids;
}

/**
 * The gradient buffers for what the forward pass reads, by tensor name in `grads`: the
 * ones already there (an earlier call's, reused) or new ones, registered. The native
 * call overwrites every one of them (it zeroes those it adds into first).
 */
function allocate(fm: ForwardModel, specs: NativeBlockSpec[], grads: Map<string, Float32Array>): NativeModelGrads {
  const c = fm.config;
  const buffer = (name: string): Float32Array => {
    const n = fm.tensor(name).data.length;
    let g = grads.get(name);
    if (!g) {
      g = new Float32Array(n);
      grads.set(name, g);
    } else if (!(g instanceof Float32Array) || g.length !== n) {
      throw new ShapeError(`the gradient buffer given for ${name} must be a Float32Array of ${n} values`);
    }
    return g;
  };
  const blocks = specs.map((spec, i): NativeBlockGrads => {
    const p = `blocks.${i}`;
    const out: NativeBlockGrads = {};
    if (spec.attnNorm) {
      if (spec.attnNorm.weight) out.attnNormWeight = buffer(`${p}.attn_norm.weight`);
      if (spec.attnNorm.bias) out.attnNormBias = buffer(`${p}.attn_norm.bias`);
    }
    if (spec.mlpNorm) {
      if (spec.mlpNorm.weight) out.mlpNormWeight = buffer(`${p}.mlp_norm.weight`);
      if (spec.mlpNorm.bias) out.mlpNormBias = buffer(`${p}.mlp_norm.bias`);
    }
    const names = blockTensorNames(p, !!spec.gate);
    for (const key of Object.keys(names) as GradKey[]) if (spec[key]) out[key] = buffer(names[key]);
    return out;
  });
  const head = fm.headSpec();
  const lmName = fm.tensors.has('lm_head.weight') ? 'lm_head.weight' : 'embed.weight';
  return {
    blocks,
    embed: buffer('embed.weight'),
    pos: c.rope === null ? buffer('pos_embed.weight') : null,
    head: {
      normWeight: head.norm?.weight ? buffer('final_norm.weight') : null,
      normBias: head.norm?.bias ? buffer('final_norm.bias') : null,
      lm: buffer(lmName),
    },
  };
}

function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Options of a backward call. */
export interface BackwardCallOptions {
  batch: number;
  seq: number;
  signal?: AbortSignal;
  /**
   * Memory for block activations kept from the forward pass instead of recomputed in
   * the backward (block-wise checkpointing; the gradients have the same bits either
   * way). Default 256 MiB: small models are not recomputed at all; 0: every block but
   * the last is recomputed from its saved input.
   */
  keepActivationBytes?: number;
  /**
   * Distillation instead of the next-token NLL: a teacher's logits on the same tokens
   * (batch*seq rows of vocab logits, e.g. the dense model's). The loss is then the mean
   * over the same batch*(seq-1) rows of KL(softmax(teacher) || softmax(model)), and the
   * gradients are its gradients (the teacher is a constant).
   */
  teacherLogits?: Float32Array;
}

/** Options of lossAndGradients. */
export interface GradientCallOptions extends BackwardCallOptions {
  /**
   * An earlier result's `grads`, to be overwritten instead of allocating new buffers: a
   * loop over many calls (fine-tuning, benchmarks) then touches fresh pages once, not
   * on every call (at 7B shapes, 4 bytes a weight of page faults per call). The result's
   * `grads` is this same map.
   */
  into?: Map<string, Float32Array>;
}

type NativeCall<A> = (spec: NativeModelSpec, ids: Int32Array, args: A, opts: BackwardOptions) => Promise<{ sum: number; count: number }>;

function checkTeacher(t: Float32Array | undefined, o: BackwardCallOptions, vocab: number): void {
  if (t === undefined) return;
  if (!(t instanceof Float32Array)) throw new ShapeError('teacherLogits must be a Float32Array');
  if (t.length !== o.batch * o.seq * vocab)
    throw new ShapeError(`teacherLogits has ${t.length} values, expected batch*seq*vocab = ${o.batch}*${o.seq}*${vocab} = ${o.batch * o.seq * vocab}`);
}

/**
 * Checks the arguments, describes the model, runs `call` (bwdModel or bwdMoments) off the
 * JavaScript thread with the signal wired to its cancel flag; returns the mean loss.
 * `prepare` makes the call's buffers from the forward model and its block specs.
 */
async function runBackward<A>(
  model: LoadedModel,
  tokens: ArrayLike<number>,
  o: BackwardCallOptions,
  prepare: (fm: ForwardModel, blocks: NativeBlockSpec[]) => A,
  call: NativeCall<A>,
): Promise<number> {
  const { batch, seq, signal, keepActivationBytes } = o;
  if (keepActivationBytes !== undefined && !(Number.isSafeInteger(keepActivationBytes) && keepActivationBytes >= 0))
    throw new ArgumentRangeError(`keepActivationBytes must be an integer >= 0, got ${String(keepActivationBytes)}`);
  if (signal?.aborted) throw aborted(signal);
  const fm = new ForwardModel(model);
  const c = fm.config;
  const ids = checkTokens(tokens, batch, seq, c.vocabSize);
  if (c.rope === null && seq + (c.positionOffset ?? 0) > fm.tensor('pos_embed.weight').shape[0])
    throw new ArgumentRangeError(
      `seq ${seq} needs ${seq + (c.positionOffset ?? 0)} learned positions, pos_embed.weight has ${fm.tensor('pos_embed.weight').shape[0]}`,
    );
  const blocks = Array.from({ length: c.numLayers }, (_, i) => fm.blockSpec(i));
  const spec: NativeModelSpec = {
    blocks,
    embed: asTable(fm.tensor('embed.weight'), 'embed.weight', c.hiddenSize),
    pos: c.rope === null ? asTable(fm.tensor('pos_embed.weight'), 'pos_embed.weight', c.hiddenSize) : null,
    posOffset: c.positionOffset ?? 0,
    head: fm.headSpec(),
  };
  checkTeacher(o.teacherLogits, o, c.vocabSize);
  const args = prepare(fm, blocks);
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let total: { sum: number; count: number };
  try {
    const teacher = o.teacherLogits ? { teacherLogits: o.teacherLogits } : {};
    total = await nativeCall(() => call(spec, ids, args, { backend: fm.backend, cancel, keepActivationBytes, ...teacher }));
  } catch (e) {
    if (signal?.aborted && (e as { code?: string }).code === 'E_ABORTED') throw aborted(signal);
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  // Aborted after the last check between blocks: the caller asked to stop, so no result.
  if (signal?.aborted) throw aborted(signal);
  const loss = total.sum / total.count;
  if (!Number.isFinite(loss)) throw new NonFiniteError(`the loss is not finite (${loss}): gradients would be meaningless`);
  return loss;
}

/**
 * Mean next-token NLL of `batch` sequences of `seq` tokens (row-major in `tokens`) and
 * its gradient for every parameter tensor the forward pass reads (a tied LM head's
 * gradient is part of embed.weight's). Rejects with ArgumentRangeError for token ids
 * outside the vocabulary or seq < 2, ShapeError when tokens.length != batch*seq,
 * NonFiniteError when the loss is not finite, and the signal's reason when it is
 * aborted before the promise settles (the native work stops at the next block).
 */
export async function lossAndGradients(model: LoadedModel, tokens: ArrayLike<number>, o: GradientCallOptions): Promise<GradientResult> {
  const grads = o.into ?? new Map<string, Float32Array>();
  const loss = await runBackward(
    model,
    tokens,
    o,
    (fm, blocks) => allocate(fm, blocks, grads),
    (spec, ids, native, opts) => backwardNative().bwdModel(spec, ids, o.batch, o.seq, native, opts),
  );
  return { loss, grads };
}

/** Accumulators of one weight's gradient G over calls: sum += G, sumSq += G^2 (float32, the weight's size). */
export interface MomentAccumulators {
  sum?: Float32Array;
  sumSq?: Float32Array;
}

type MatrixKey = keyof NativeBlockMoments;
const MATRIX_KEYS: readonly MatrixKey[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** Each accumulated weight's place: its block and matrix key (a block weight matrix, or a TypeError naming it). */
function momentsByBlock(fm: ForwardModel, blocks: NativeBlockSpec[], acc: Map<string, MomentAccumulators>): NativeBlockMoments[] {
  const out = blocks.map((): NativeBlockMoments => ({}));
  const where = new Map<string, [number, MatrixKey]>();
  blocks.forEach((spec, i) => {
    const names = blockTensorNames(`blocks.${i}`, !!spec.gate);
    for (const key of MATRIX_KEYS) if (spec[key]) where.set(names[key], [i, key]);
  });
  for (const [name, a] of acc) {
    const at = where.get(name);
    if (!at) throw new TypeError(`${name} is not a weight matrix of a block: its gradient moments cannot be accumulated`);
    const n = fm.tensor(name).data.length;
    for (const [k, v] of [['sum', a.sum], ['sumSq', a.sumSq]] as const)
      if (v && !(v instanceof Float32Array && v.length === n))
        throw new ShapeError(`the ${k} accumulator of ${name} must be a Float32Array of ${n} values`);
    out[at[0]][at[1]] = { sum: a.sum ?? null, sumSq: a.sumSq ?? null };
  }
  return out;
}

/**
 * Accumulate mode of lossAndGradients: for each weight matrix named in `acc` (block
 * matrices: attn.q/k/v/o, mlp.gate/up/down or fc1/fc2), adds this call's gradient G
 * into its accumulators (sum += G, sumSq += G^2; the same bits as adding
 * lossAndGradients' gradient with accumulateMoments), holding one block's gradients at
 * a time instead of the whole model's. Returns the loss. Rejects as lossAndGradients
 * does (and TypeError / ShapeError for a name or accumulator that does not fit); the
 * accumulators are then partly updated.
 */
export async function accumulateGradientMoments(
  model: LoadedModel,
  tokens: ArrayLike<number>,
  acc: Map<string, MomentAccumulators>,
  o: MomentCallOptions,
): Promise<number> {
  return runBackward(
    model,
    tokens,
    o,
    (fm, blocks) => {
      const moments = momentsByBlock(fm, blocks, acc);
      return { moments, workspace: o.workspace?.fit(fm, blocks, moments) };
    },
    (spec, ids, { moments, workspace }, opts) => backwardNative().bwdMoments(spec, ids, o.batch, o.seq, moments, { ...opts, workspace }),
  );
}

/** Options of accumulateGradientMoments. */
export interface MomentCallOptions extends BackwardCallOptions {
  /** Buffers for one block's gradients kept across calls (a loop over calibration sequences). */
  workspace?: MomentWorkspace;
}

/**
 * One block's gradient buffers for the accumulate mode, one per matrix kind, kept from
 * call to call: at 7B shapes that is ~700 MB whose pages a fresh allocation would fault
 * in again on every call. Grows to the largest wanted matrix of each kind.
 */
export class MomentWorkspace {
  private readonly buffers: (Float32Array | null)[] = MATRIX_KEYS.map(() => null);

  /** The buffers, each at least as large as the largest matrix of its kind that `moments` wants. */
  fit(fm: ForwardModel, blocks: NativeBlockSpec[], moments: NativeBlockMoments[]): (Float32Array | null)[] {
    moments.forEach((block, i) =>
      MATRIX_KEYS.forEach((key, s) => {
        if (!block[key]) return;
        const n = fm.tensor(blockTensorNames(`blocks.${i}`, !!blocks[i].gate)[key]).data.length;
        if ((this.buffers[s]?.length ?? 0) < n) this.buffers[s] = new Float32Array(n);
      }),
    );
    return this.buffers;
  }
}
