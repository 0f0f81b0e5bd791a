#include "cpu/fwd_norm.h"

#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace shears {

void norm_rows(const NormSpec& spec, const float* in, float* out, int64_t rows, int64_t dim) {
  const std::vector<float> w = vec_f32(spec.weight), b = vec_f32(spec.bias);
  const size_t d = static_cast<size_t>(dim);
  parallel_for(static_cast<size_t>(rows), 16, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* x = in + r * d;
      float* y = out + r * d;
      double mean = 0.0;
      if (spec.kind == NormKind::Layer) {
        for (size_t j = 0; j < d; ++j) mean += x[j];
        mean /= static_cast<double>(d);
      }
      double ss = 0.0;
      for (size_t j = 0; j < d; ++j) {
        const double c = x[j] - mean;
        ss += c * c;
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + spec.eps));
      const float m = static_cast<float>(mean);
      for (size_t j = 0; j < d; ++j) {
        float v = (x[j] - m) * inv;
        if (!w.empty()) v *= w[j];
        if (!b.empty()) v += b[j];
        y[j] = v;
      }
    }
  });
}

}  // namespace shears
