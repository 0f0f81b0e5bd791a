// Pruned weights per row, counted from the mask (0 bits), one warp per row. CPU
// reference: the pruned_per_row outputs of native/cpu/cpu_backend.cc (k per row for
// row selection, sum of drops for N:M, zeroed-by-mask count in apply_mask): all
// equal the number of 0 keep bits in the row.
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

__global__ void count_pruned_kernel(const uint32_t* words, int64_t rows, int64_t cols, uint32_t* pruned) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + (threadIdx.x >> 5); r < rows; r += warps) {
    unsigned long long b0 = static_cast<unsigned long long>(r) * cols, b1 = b0 + cols;  // bits [b0, b1)
    unsigned long long w0 = b0 >> 5, w1 = (b1 + 31) >> 5;
    uint32_t ones = 0;
    for (unsigned long long wi = w0 + lane; wi < w1; wi += 32) {
      uint32_t v = words[wi];
      unsigned long long lo = wi << 5, hi = lo + 32;  // bits of this word
      if (lo < b0) v &= ~0u << (b0 - lo);
      if (hi > b1) v &= ~0u >> (hi - b1);
      ones += __popc(v);
    }
    for (int o = 16; o > 0; o >>= 1) ones += __shfl_down_sync(0xffffffffu, ones, o);
    if (lane == 0) pruned[r] = static_cast<uint32_t>(cols) - ones;
  }
}

void launch_count_pruned(const uint32_t* words, int64_t rows, int64_t cols, uint32_t* pruned, cudaStream_t stream) {
  if (rows == 0) return;
  int64_t blocks = (rows + 7) / 8;  // 8 warps per block
  if (blocks > 65535) blocks = 65535;
  count_pruned_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(words, rows, cols, pruned);
  check_launch("count_pruned_kernel");
}

}  // namespace cuda
}  // namespace shears
