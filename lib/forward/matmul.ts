// The forward pass's dense matmul, exposed for tests and benchmarks, and the choice
// of its instruction-set variant.
import { ShapeError, nativeCall } from '../errors';
import { cpuFeatures, setCpuFeatures } from '../kernels';
import { forwardNative, NativeBackend } from '../native/forward';
import { NativeCpuFeatures } from '../native/kernels';
import { checkMatrix, checkTypedArray, Matrix } from '../tensor';

export type MatmulIsa = 'auto' | 'portable' | 'avx2' | 'avx512';

/** y[n, out] = x[n, in] · W[out, in]^T (+ bias[out]); W in f32, f16 or bf16, float32 accumulation. */
export async function matmul(
  x: Float32Array,
  w: Matrix,
  opts: { bias?: Float32Array; out?: Float32Array; backend?: NativeBackend } = {},
): Promise<Float32Array> {
  checkMatrix(w, 'W');
  checkTypedArray(x, 'Float32Array', -1, 'x');
  if (x.length === 0 || x.length % w.cols !== 0) throw new ShapeError(`x has ${x.length} elements, not a positive multiple of W.cols ${w.cols}`);
  const n = x.length / w.cols;
  if (opts.bias) checkTypedArray(opts.bias, 'Float32Array', w.rows, 'bias');
  const y = opts.out ?? new Float32Array(n * w.rows);
  checkTypedArray(y, 'Float32Array', n * w.rows, 'out');
  await nativeCall(() =>
    forwardNative().fwdMatmul(x, n, { data: w.data, dtype: w.dtype, rows: w.rows, cols: w.cols }, opts.bias ?? null, y, { backend: opts.backend }),
  );
  return y;
}

/** The variant in use and those this CPU supports: the process-wide CPU feature level (lib/kernels.ts cpuFeatures). */
export function matmulIsa(): NativeCpuFeatures {
  return cpuFeatures();
}

/** Forces a variant ('auto': the best supported) by capping every CPU kernel (setCpuFeatures). Throws BackendError when unsupported. */
export function setMatmulIsa(isa: MatmulIsa): NativeCpuFeatures {
  return setCpuFeatures(isa);
}

