// Per-column activation statistics, one thread per column streaming the rows in order.
// CPU reference: native/cpu/column_stats.cc (column_stats_range): the same double
// additions in the same order (v = x as double, s += v, q += v*v with v*v exact), so
// sums match the CPU bit for bit; exceed counts |x| > threshold (float compare).
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

__global__ void column_stats_kernel(const float* x, int64_t rows, int64_t cols, float threshold, double* sum,
                                    double* sum_sq, double* exceed, long long* first_bad_row) {
  int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= cols) return;
  double s = 0.0, q = 0.0, ex = 0.0;
  long long bad = -1;
  const float* p = x + j;
  for (int64_t r = 0; r < rows; ++r, p += cols) {
    float f = *p;
    double v = f;
    s = __dadd_rn(s, v);
    q = __dadd_rn(q, __dmul_rn(v, v));
    ex = __dadd_rn(ex, fabsf(f) > threshold ? 1.0 : 0.0);
    if (bad < 0 && !finite_bits(f)) bad = r;
  }
  sum[j] = s;
  sum_sq[j] = q;
  if (exceed) exceed[j] = ex;
  first_bad_row[j] = bad;
}

void launch_column_stats(const float* x, int64_t rows, int64_t cols, float threshold, double* sum, double* sum_sq,
                         double* exceed, long long* first_bad_row, cudaStream_t stream) {
  if (cols == 0) return;
  unsigned blocks = static_cast<unsigned>((cols + 127) / 128);
  column_stats_kernel<<<blocks, 128, 0, stream>>>(x, rows, cols, threshold, sum, sum_sq, exceed, first_bad_row);
  check_launch("column_stats_kernel");
}

}  // namespace cuda
}  // namespace shears
