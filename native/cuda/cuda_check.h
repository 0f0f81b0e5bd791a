// Turning CUDA runtime failures into shears errors (code E_BACKEND) that carry the
// CUDA error string. Host-only; no N-API here so .cu files can include it.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace shears {
namespace cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so the next operation starts clean
    fail(kBackendError, std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
  }
}

// After a kernel launch: reports bad launch configurations and missing kernel images.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace cuda
}  // namespace shears

#define SHEARS_CUDA_CHECK(call) ::shears::cuda::check((call), #call)
