#include "cpu/row_cosine.h"

#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace shears {

double row_cosine_sum(const float* a, const float* b, size_t rows, size_t cols) {
  std::vector<double> part(rows, 0.0);
  parallel_for(rows, 16, [&](size_t, size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; ++r) {
      const float* x = a + r * cols;
      const float* y = b + r * cols;
      double xy = 0, xx = 0, yy = 0;
      for (size_t j = 0; j < cols; ++j) {
        xy += static_cast<double>(x[j]) * y[j];
        xx += static_cast<double>(x[j]) * x[j];
        yy += static_cast<double>(y[j]) * y[j];
      }
      part[r] = (xx > 0 && yy > 0) ? xy / std::sqrt(xx * yy) : (xx == 0 && yy == 0 ? 1.0 : 0.0);
    }
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

}  // namespace shears
