// N:M selection, one thread per group of m consecutive weights of a row. CPU reference:
// native/cpu/select_nm.cc (select_row_nm): in each group the r - n lowest are pruned by
// rank (lower index first among equal keys); a trailing group of r < m keeps min(n, r).
// Fused mode (scores == null): the thread scores its group from w and reports the
// first non-finite weight (native/cpu/cpu_backend.cc prune).
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

__global__ void select_nm_kernel(const float* scores, const void* w, int dtype, ScoreSpec sp, int64_t rows,
                                 int64_t cols, int n, int m, uint32_t* words, unsigned long long* first_bad) {
  const size_t groups_per_row = (static_cast<size_t>(cols) + m - 1) / m;
  const size_t total = static_cast<size_t>(rows) * groups_per_row;
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < total;
       g += static_cast<size_t>(gridDim.x) * blockDim.x) {
    size_t r = g / groups_per_row, c0 = (g % groups_per_row) * static_cast<size_t>(m);
    size_t flat0 = r * static_cast<size_t>(cols) + c0;
    int len = static_cast<int>(min(static_cast<size_t>(m), static_cast<size_t>(cols) - c0));
    int drop = len > n ? len - n : 0;
    uint32_t keys[32];
    bool bad = false;
    for (int i = 0; i < len; ++i) {
      float s;
      if (scores) {
        s = scores[flat0 + i];
      } else {
        float x = load_w(w, dtype, flat0 + i);
        if (!finite_bits(x)) {
          atomicMin(first_bad, static_cast<unsigned long long>(flat0 + i));
          bad = true;
          break;
        }
        s = score_one(x, sp, c0 + i);
      }
      keys[i] = order_key(s);
    }
    if (bad) continue;
    uint32_t keep = 0;
    for (int i = 0; i < len; ++i) {
      int rank = 0;  // how many entries are pruned before this one would be
      for (int j = 0; j < len; ++j) rank += (keys[j] < keys[i]) | ((keys[j] == keys[i]) & (j < i));
      if (rank >= drop) keep |= 1u << i;
    }
    or_bits32(words, flat0, keep);
  }
}

void launch_select_nm(const float* scores, const void* w, int dtype, ScoreSpec sp, int64_t rows, int64_t cols, int n,
                      int m, uint32_t* words, unsigned long long* first_bad, cudaStream_t stream) {
  size_t groups = static_cast<size_t>(rows) * ((static_cast<size_t>(cols) + m - 1) / m);
  if (groups == 0) return;
  size_t blocks = (groups + 127) / 128;
  if (blocks > (1u << 20)) blocks = 1u << 20;
  select_nm_kernel<<<static_cast<unsigned>(blocks), 128, 0, stream>>>(scores, w, dtype, sp, rows, cols, n, m, words,
                                                                       first_bad);
  check_launch("select_nm_kernel");
}

}  // namespace cuda
}  // namespace shears
