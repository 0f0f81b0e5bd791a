// The sparsity mask a fine-tune holds fixed: in every pruned matrix (the linear layers
// of the blocks, lib/prune/layers.ts), the weights that are exactly zero in the input
// model. It is read from the weights themselves, so any pruned model (from shears or
// elsewhere) works, and the output can be checked the same way: zeros before and after,
// and a checksum of the zero positions, must be equal.
import { createHash } from 'node:crypto';

import { convertDType } from '../kernels';
import { kernelsNative } from '../native/kernels';
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
  for (let b = 0; b < zero.length; ++b) keep[b] = ~zero[b] & 0xff;
  // Bits past the end stay clear: the kernel never reads them, and the checksum stays stable.
  if (n % 8 !== 0) keep[keep.length - 1] &= (1 << n % 8) - 1;
  return keep;
}

/** sha256 (first 16 hex digits) of the packed zero positions: equal iff the zero patterns are. */
export function zeroChecksum(bits: Uint8Array): string {
  return createHash('sha256').update(bits).digest('hex').slice(0, 16);
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
  const { blocks } = selectLayers(model.config, model.tensors);
  return blocks.flat().map((l) => {
    const t = model.tensors.get(l.name)!;
    const { bits, zeros } = zeroBits(t);
    return { name: l.name, shape: [...t.shape], zeros, checksum: zeroChecksum(bits), keep: keepFromZeros(bits, t.data.length) };
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
    let prunedNonzero = 0;
    for (let b = 0; b < bits.length; ++b) {
      // pruned (keep bit clear) but not zero now
      let x = ~m.keep[b] & ~bits[b] & 0xff;
      if (b === bits.length - 1 && t.data.length % 8 !== 0) x &= (1 << t.data.length % 8) - 1;
      for (; x; x &= x - 1) ++prunedNonzero;
    }
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
  const data = await convertDType(t.data, t.dtype, dtype);
  if (keep) {
    const src = t.data;
    for (let i = 0; i < data.length; ++i) {
      if (!((keep[i >> 3] >> (i & 7)) & 1)) continue;
      const negative = t.dtype === 'f32' ? Object.is(src[i], -0) || src[i] < 0 : (src[i] & 0x8000) !== 0;
      if (dtype === 'f32') {
        if (data[i] === 0) data[i] = negative ? -1.4e-45 : 1.4e-45;
      } else if ((data[i] & 0x7fff) === 0) data[i] = negative ? 0x8001 : 0x0001;
    }
  }
  return { ...t, dtype, data };
}
