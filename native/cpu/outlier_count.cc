#include "cpu/outlier_count.h"

#include <cmath>

#include "core/thread_pool.h"

namespace shears {
namespace {

struct Partial {
  double sum = 0;
  uint64_t above = 0;
  Partial& operator+=(const Partial& o) {
    sum += o.sum;
    above += o.above;
    return *this;
  }
};

}  // namespace

OutlierCount outlier_count(const MatrixView& w, const float* act, double threshold) {
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  const Partial total = parallel_sum<Partial>(rows, 16, [&](size_t lo, size_t hi) {
    Partial p;
    for (size_t r = lo; r < hi; ++r) {
      double row_sum = 0;
      for (size_t j = 0; j < cols; ++j) {
        const float s = std::fabs(load_f32(w.data, w.dtype, r * cols + j)) * act[j];
        row_sum += s;
        p.above += static_cast<double>(s) > threshold;
      }
      p.sum += row_sum;
    }
    return p;
  });
  return {total.sum, total.above};
}

}  // namespace shears
