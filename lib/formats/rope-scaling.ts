// Llama-3 RoPE frequency scaling in GGUF. HF configs carry the parameters
// (rope_scaling {rope_type: llama3, factor, low_freq_factor, high_freq_factor,
// original_max_position_embeddings}); llama.cpp stores only their result, a
// rope_freqs.weight tensor of dim/2 divisors. Writers compute the tensor; readers recover
// parameters that reproduce it (and check that they do). These are dim/2 scalars of
// configuration, not weights.
import { FormatError } from '../errors';
import { RopeScaling } from '../model/types';

/** Divisor of each rotary frequency, as transformers' _compute_llama3_parameters and llama.cpp's converter compute it. */
export function llama3Factors(theta: number, dim: number, s: RopeScaling): Float32Array {
  const out = new Float32Array(dim / 2);
  const lowWave = s.originalContextLength / s.lowFreqFactor;
  const highWave = s.originalContextLength / s.highFreqFactor;
  for (let i = 0; i < dim / 2; i++) {
    const wavelen = (2 * Math.PI) / theta ** (-(2 * i) / dim);
    if (wavelen < highWave) out[i] = 1;
    else if (wavelen > lowWave) out[i] = s.factor;
    else {
      const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/**
 * Parameters that reproduce `factors` (undefined when every factor is 1). Only the ratios
 * matter, so the original context length is taken from the file when it says so, else 8192
 * (Llama 3's); low/high frequency factors follow from the smooth region.
 */
export function inferLlama3(file: string, theta: number, dim: number, factors: Float32Array, originalContext = 8192): RopeScaling | undefined {
  const n = dim / 2;
  if (factors.length !== n) throw new FormatError(file, `rope_freqs.weight has ${factors.length} values, expected rope dimension / 2 = ${n}`);
  if (factors.some((f) => !Number.isFinite(f) || f < 0.999)) throw new FormatError(file, 'rope_freqs.weight holds values below 1 or not finite: not Llama-3 scaling');
  if (factors.every((f) => Math.abs(f - 1) < 1e-6)) return undefined;
  const factor = Math.max(...factors);
  const wave = (i: number) => (2 * Math.PI) / theta ** (-(2 * i) / dim);
  const medium: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const f = factors[i];
    if (f > 1 + 1e-6 && f < factor * (1 - 1e-6)) medium.push([1 / wave(i), (1 / f - 1 / factor) / (1 - 1 / factor)]);
  }
  let lowFreqFactor: number;
  let highFreqFactor: number;
  if (medium.length >= 2) {
    // smooth = A / wavelen - B with A = orig / (high - low), B = low / (high - low): least squares.
    const mx = medium.reduce((a, [x]) => a + x, 0) / medium.length;
    const my = medium.reduce((a, [, y]) => a + y, 0) / medium.length;
    const sxy = medium.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
    const sxx = medium.reduce((a, [x]) => a + (x - mx) ** 2, 0);
    const A = sxy / sxx;
    const B = A * mx - my;
    lowFreqFactor = (originalContext * B) / A;
    highFreqFactor = (originalContext * (B + 1)) / A;
  } else if (medium.length === 0) {
    // A sharp step: put both thresholds between the last unscaled and the first scaled frequency.
    const first = factors.findIndex((f) => f > 1 + 1e-6);
    const cut = Math.sqrt(wave(first - 1) * wave(first));
    lowFreqFactor = originalContext / cut;
    highFreqFactor = lowFreqFactor * (1 + 1e-9);
  } else {
    throw new FormatError(file, 'rope_freqs.weight has a single transition value: its Llama-3 parameters cannot be recovered');
  }
  const s: RopeScaling = { type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalContextLength: originalContext };
  const again = llama3Factors(theta, dim, s);
  for (let i = 0; i < n; i++)
    if (Math.abs(again[i] - factors[i]) > 1e-4 * factors[i])
      throw new FormatError(file, `rope_freqs.weight does not follow Llama-3 scaling (value ${i}: ${factors[i]}, recovered parameters give ${again[i]})`);
  return s;
}
