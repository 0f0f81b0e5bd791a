#include "cpu/vd_adam.h"

#include <cmath>

#include "core/thread_pool.h"

namespace shears {

void vd_adam_step(float* param, const float* grad, float* m, float* v, size_t size, int64_t step, const VdAdamSettings& s) {
  const double c1 = 1.0 - std::pow(s.beta1, static_cast<double>(step));
  const double c2 = 1.0 - std::pow(s.beta2, static_cast<double>(step));
  const float b1 = static_cast<float>(s.beta1), b2 = static_cast<float>(s.beta2);
  const float lr1 = static_cast<float>(s.lr / c1), inv_c2 = static_cast<float>(1.0 / c2), eps = static_cast<float>(s.eps);
  parallel_for(size, 1 << 14, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float g = grad[i];
      m[i] = b1 * m[i] + (1.0f - b1) * g;
      v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      param[i] -= lr1 * m[i] / (std::sqrt(v[i] * inv_c2) + eps);
    }
  });
}

}  // namespace shears
