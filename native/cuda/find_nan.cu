// Locates NaN scores before a selection. CPU reference: native/cpu/cpu_backend.cc
// check_scores_not_nan (first NaN of the lowest row = lowest flat index).
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

__global__ void find_nan_kernel(const float* s, size_t n, unsigned long long* first_nan) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    if (is_nan_bits(s[i])) atomicMin(first_nan, static_cast<unsigned long long>(i));
}

void launch_find_nan(const float* scores, size_t n, unsigned long long* first_nan, int sms, cudaStream_t stream) {
  if (n == 0) return;
  find_nan_kernel<<<grid_for(n, 256, sms), 256, 0, stream>>>(scores, n, first_nan);
  check_launch("find_nan_kernel");
}

}  // namespace cuda
}  // namespace shears
