#include "cpu/ria_score.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/score.h"

namespace shears {

namespace {

inline bool finite_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return (u & 0x7fffffffu) < 0x7f800000u;
}

// Columns summed per task: wide enough that each task reads contiguous row segments.
constexpr size_t kColumnStripe = 256;

}  // namespace

void ria_score(const MatrixView& w, const float* act, double a, float* out) {
  if (!(a >= 0.0 && a <= 4.0)) fail(kRangeError, "ria: activation exponent a must be in [0, 4], got " + std::to_string(a));
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  check_statistic(act, cols, "ria: activation norm");

  // Pass 1 (rows): W as float into out, checked, and each row's sum of |W| in order.
  std::vector<double> row_sum(rows, 0.0);
  std::mutex m;
  size_t bad_row = SIZE_MAX, bad_col = 0;
  parallel_for(rows, balanced_grain(rows, 8), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      float* x = out + r * cols;
      to_f32(w.data, w.dtype, r * cols, cols, x);
      double s = 0.0;
      for (size_t j = 0; j < cols; ++j) s += std::fabs(static_cast<double>(x[j]));
      if (std::isfinite(s)) {
        row_sum[r] = s;
        continue;
      }
      size_t j = 0;
      while (j < cols && finite_bits(x[j])) ++j;
      std::lock_guard<std::mutex> g(m);
      if (r < bad_row) bad_row = r, bad_col = j;  // the lowest row wins: the message does not depend on timing
    }
  });
  if (bad_row != SIZE_MAX)
    fail(kNonFinite, "weights contain a non-finite value at row " + std::to_string(bad_row) + ", column " + std::to_string(bad_col));

  // Pass 2 (column stripes): each column's sum of |W| over the rows in order.
  std::vector<double> col_sum(cols, 0.0);
  parallel_for(cols, kColumnStripe, [&](size_t, size_t b, size_t e) {
    for (size_t r = 0; r < rows; ++r) {
      const float* x = out + r * cols;
      for (size_t j = b; j < e; ++j) col_sum[j] += std::fabs(static_cast<double>(x[j]));
    }
  });

  // Pass 3 (rows): the score, one rounding to float.
  std::vector<double> act_pow(cols);
  for (size_t j = 0; j < cols; ++j) {
    const double v = act[j];
    act_pow[j] = a == 0.5 ? std::sqrt(v) : a == 1.0 ? v : a == 0.0 ? 1.0 : std::pow(v, a);
  }
  parallel_for(rows, balanced_grain(rows, 8), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      float* x = out + r * cols;
      const double rs = row_sum[r];
      for (size_t j = 0; j < cols; ++j) {
        const double v = std::fabs(static_cast<double>(x[j]));
        const double rel = (col_sum[j] > 0.0 ? v / col_sum[j] : 0.0) + (rs > 0.0 ? v / rs : 0.0);
        x[j] = static_cast<float>(rel * act_pow[j]);
      }
    }
  });
}

}  // namespace shears
