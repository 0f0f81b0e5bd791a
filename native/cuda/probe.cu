// Checks that the device can run this build's kernels (a device older than the
// compiled architectures has no kernel image: cudaErrorNoKernelImageForDevice).
#include "cuda/kernels.h"

namespace shears {
namespace cuda {

__global__ void probe_kernel(int* p) {
  if (p) *p = 1;
}

cudaError_t probe_kernel_image() {
  cudaFuncAttributes attr;
  cudaError_t e = cudaFuncGetAttributes(&attr, probe_kernel);
  if (e != cudaSuccess) return e;
  probe_kernel<<<1, 1>>>(nullptr);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  return cudaDeviceSynchronize();
}

}  // namespace cuda
}  // namespace shears
