// The sparsity mask a fine-tune holds fixed: in every pruned matrix (the linear layers
// of the blocks, lib/prune/layers.ts), the weights that are exactly zero in the input
// model. It is read from the weights themselves, so any pruned model (from shears or
// elsewhere) works, and the output can be checked the same way: zeros before and after,
// and a checksum of the zero positions, must be equal.
import { createHash } from 'node:crypto';

import { nativeCall, ShearsError } from '../errors';
import { kernelsNative } from '../native/kernels';
import { optimNative } from '../native/optim';
import { LoadedModel, Tensor } from '../model/types';
import { selectLayers } from '../prune/layers';

/** Bit i set (little-endian within bytes) where weight i is exactly zero (+0 or -0). */
export function zeroBits(t: Pick<Tensor, 'data' | 'dtype'>): { bits: Uint8Array; zeros: number } {
  const bits = new Uint8Array(Math.ceil(t.data.length / 8));
  const zeros = kernelsNative().zeroMask(t.data, t.dtype, bits);
  return { bits, zeros };
}

/** The keep-mask the optimizer takes (bit set: trains) from the zero bits. */
export function keepFromZeros(zero: Uint8Array, n: number): Uint8Array {
  const keep = new Uint8Array(zero.length);
  // Bits past the end stay clear: the kernel never reads them, and the checksum stays stable.
  optimNative().keepFromZeros(zero, n, keep);
  return keep;
}

/** sha256 (first 16 hex digits) of the packed zero positions: equal iff the zero patterns are. */
export function zeroChecksum(bits: Uint8Array): string {
  return createHash('sha256').update(bits).digest('hex').slice(0, 16);
}

/** A trained model's mask was not preserved: a bug, never published. */
export class MaskNotPreservedError extends ShearsError {
  constructor(message: string) {
    super(message, 'E_MASK');
  }
}

export interface MatrixMask {
  name: string;
  shape: number[];
  zeros: number;
  checksum: string;
  keep: Uint8Array;
}

/** The masks of the model's pruned matrices (every linear layer of the blocks), in block order. */
export function pruneMasks(model: LoadedModel): MatrixMask[] {
  return masksOf(model, selectLayers(model.config, model.tensors).blocks.flat().map((l) => l.name));
}

/** The masks of the named matrices (their zeros now). */
export function masksOf(model: LoadedModel, names: readonly string[]): MatrixMask[] {
  return names.map((name) => {
    const t = model.tensors.get(name)!;
    const { bits, zeros } = zeroBits(t);
    return { name, shape: [...t.shape], zeros, checksum: zeroChecksum(bits), keep: keepFromZeros(bits, t.data.length) };
  });
}

export interface MaskCheck {
  name: string;
  shape: number[];
  zeros_before: number;
  zeros_after: number;
  checksum_before: string;
  checksum_after: string;
  /** Pruned weights that are no longer zero (must be 0). */
  pruned_nonzero_after: number;
  preserved: boolean;
}

/** Compares each mask with the zeros of the model's current weights (read back from the data, not from the mask). */
export function checkMasks(masks: readonly MatrixMask[], model: LoadedModel): MaskCheck[] {
  return masks.map((m) => {
    const t = model.tensors.get(m.name)!;
    const { bits, zeros } = zeroBits(t);
    const prunedNonzero = optimNative().prunedNonzero(m.keep, bits, t.data.length);
    const checksum = zeroChecksum(bits);
    return {
      name: m.name,
      shape: m.shape,
      zeros_before: m.zeros,
      zeros_after: zeros,
      checksum_before: m.checksum,
      checksum_after: checksum,
      pruned_nonzero_after: prunedNonzero,
      preserved: prunedNonzero === 0 && zeros === m.zeros && checksum === m.checksum,
    };
  });
}

/**
 * The tensor stored in `dtype`, keeping its zero pattern: a kept weight (bit set in
 * `keep`) that rounds to zero becomes the smallest nonzero value of `dtype` with its
 * sign, as the optimizer does for every step (native/cpu/adamw.h).
 */
export async function castKeepingZeros(t: Tensor, dtype: Tensor['dtype'], keep: Uint8Array | undefined): Promise<Tensor> {
  if (t.dtype === dtype) return t;
  const n = t.data.length;
  const data = dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n);
  await nativeCall(() => optimNative().castKeepingZeros({ data: t.data, dtype: t.dtype }, { data, dtype }, keep));
  return { ...t, dtype, data };
}
