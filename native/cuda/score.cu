// Scores of a whole matrix. CPU reference: native/cpu/score.cc (score_row): convert to
// float32, fail on a non-finite weight, then |w|^p * a^q with the same arithmetic.
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

ScoreSpec make_score_spec(double p, double q, const float* act_dev) {
  ScoreSpec s;
  s.p = p;
  s.q = q;
  s.act = act_dev;
  s.mode = (p == 1.0 && q == 0.0) ? 0 : (p == 1.0 && q == 1.0) ? 1 : 2;
  return s;
}

__global__ void score_kernel(const void* w, int dtype, size_t n, size_t cols, ScoreSpec sp, float* scores,
                             unsigned long long* first_bad) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float x = load_w(w, dtype, i);
    if (!finite_bits(x)) {
      atomicMin(first_bad, static_cast<unsigned long long>(i));
      continue;
    }
    scores[i] = score_one(x, sp, i % cols);
  }
}

void launch_score(const void* w, int dtype, int64_t rows, int64_t cols, ScoreSpec sp, float* scores,
                  unsigned long long* first_bad, int sms, cudaStream_t stream) {
  size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  if (n == 0) return;
  score_kernel<<<grid_for(n, 256, sms), 256, 0, stream>>>(w, dtype, n, static_cast<size_t>(cols), sp, scores,
                                                          first_bad);
  check_launch("score_kernel");
}

}  // namespace cuda
}  // namespace shears
