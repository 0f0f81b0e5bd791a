#include "cpu/column_stats.h"

#include <cmath>

namespace shears {

size_t column_stats_range(const float* x, int64_t rows, int64_t cols, int64_t c0, int64_t c1, double* s, double* q,
                          double* ex, float threshold) {
  for (int64_t j = c0; j < c1; ++j) {
    s[j] = 0.0;
    q[j] = 0.0;
    if (ex) ex[j] = 0.0;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + static_cast<size_t>(r) * static_cast<size_t>(cols);
    for (int64_t j = c0; j < c1; ++j) {
      double v = row[j];
      s[j] += v;
      q[j] += v * v;
    }
    if (ex)
      for (int64_t j = c0; j < c1; ++j) ex[j] += std::fabs(row[j]) > threshold ? 1.0 : 0.0;
  }
  // A NaN or Inf anywhere makes the column's sums non-finite: locate it only then.
  for (int64_t j = c0; j < c1; ++j) {
    if (std::isfinite(q[j]) && std::isfinite(s[j])) continue;
    for (int64_t r = 0; r < rows; ++r) {
      float v = x[static_cast<size_t>(r) * static_cast<size_t>(cols) + j];
      if (!std::isfinite(v)) return static_cast<size_t>(r) * static_cast<size_t>(cols) + j;
    }
  }
  return SIZE_MAX;
}

}  // namespace shears
