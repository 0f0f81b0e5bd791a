// Adam (Kingma & Ba 2015) for the two parameter tensors of sparse variational dropout
// (theta and log sigma^2, docs/variational-dropout.md): one step, elementwise, in place.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

struct VdAdamSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Step `step` (1-based, for the bias corrections): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). Each element is touched by one thread.
void vd_adam_step(float* param, const float* grad, float* m, float* v, size_t size, int64_t step, const VdAdamSettings& s);

}  // namespace shears
