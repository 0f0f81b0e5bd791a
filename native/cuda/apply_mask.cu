// Zeroes pruned weights in place. CPU reference: native/cpu/apply_mask.cc
// (apply_mask_range): keep bit 0 -> +0 (all-zero bits in f32, f16 and bf16).
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

template <typename T>
__global__ void apply_mask_kernel(T* w, size_t n, const uint32_t* words) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    if (!((words[i >> 5] >> (i & 31)) & 1u)) w[i] = T(0);
}

void launch_apply_mask(void* w, int dtype, size_t n, const uint32_t* words, int sms, cudaStream_t stream) {
  if (n == 0) return;
  int grid = grid_for(n, 256, sms);
  if (dtype == 0) apply_mask_kernel<float><<<grid, 256, 0, stream>>>(static_cast<float*>(w), n, words);
  else apply_mask_kernel<uint16_t><<<grid, 256, 0, stream>>>(static_cast<uint16_t*>(w), n, words);
  check_launch("apply_mask_kernel");
}

}  // namespace cuda
}  // namespace shears
