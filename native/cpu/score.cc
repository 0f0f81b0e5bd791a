#include "cpu/score.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace shears {

static inline bool finite_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return (u & 0x7fffffffu) < 0x7f800000u;
}

// First non-finite element of a row (n when all are finite): one vectorizable pass,
// and the locating loop only when something is wrong.
static size_t first_nonfinite(const float* x, size_t n) {
  // Counting in int32 lanes (|bits| as a non-negative int compared against the largest
  // finite float) is a compare-and-subtract per 4 or 16 floats: it vectorizes.
  int32_t bad = 0;
  for (size_t j = 0; j < n; ++j) {
    uint32_t u;
    std::memcpy(&u, x + j, 4);
    bad += static_cast<int32_t>(u & 0x7fffffffu) > 0x7f7fffff;
  }
  if (bad == 0) return n;
  for (size_t j = 0; j < n; ++j)
    if (!finite_bits(x[j])) return j;
  return n;
}

size_t score_row(const void* w, DType t, size_t offset, size_t n, const ScoreParams& sp, float* out) {
  const float* a = sp.act;
  const float* f = sp.per_weight ? sp.per_weight + offset : nullptr;
  const bool magnitude = !f && sp.p == 1.0 && sp.q == 0.0, wanda = !f && sp.p == 1.0 && sp.q == 1.0;
  // f32 weights are read in place for the common scores; other dtypes are widened first.
  const float* x = out;
  if (t == DType::F32 && (magnitude || wanda)) x = static_cast<const float*>(w) + offset;
  else to_f32(w, t, offset, n, out);
  size_t bad = first_nonfinite(x, n);
  if (bad != n) return bad;
  if (magnitude) {
    for (size_t j = 0; j < n; ++j) out[j] = std::fabs(x[j]);
  } else if (wanda) {
    // float product of two floats == double product rounded to float: same as the general path
    for (size_t j = 0; j < n; ++j) out[j] = std::fabs(x[j]) * a[j];
  } else {
    // Powers in double (no overflow for p, q <= 4), one rounding to float at the end.
    const double p = sp.p, q = sp.q;
    auto pw = [](double v, double e) -> double {
      if (e == 1.0) return v;
      if (e == 2.0) return v * v;
      if (e == 0.5) return std::sqrt(v);
      if (e == 0.0) return 1.0;
      return std::pow(v, e);
    };
    if (f) {
      const double r = sp.per_weight_exp, cf = sp.per_weight_scale, ca = sp.act_scale;
      for (size_t j = 0; j < n; ++j) {
        const double column = ca == 0.0 ? 0.0 : ca * (q != 0.0 ? pw(static_cast<double>(a[j]), q) : 1.0);
        const double weight = cf * pw(std::fabs(static_cast<double>(f[j])), r);
        out[j] = static_cast<float>(pw(std::fabs(static_cast<double>(x[j])), p) * (column + weight));
      }
      return n;
    }
    for (size_t j = 0; j < n; ++j) {
      double sc = pw(std::fabs(static_cast<double>(x[j])), p);
      if (q != 0.0) sc *= pw(static_cast<double>(a[j]), q);
      out[j] = static_cast<float>(sc);
    }
  }
  return n;
}

void check_statistic(const float* a, size_t n, const char* what) {
  for (size_t j = 0; j < n; ++j) {
    if (!finite_bits(a[j]))
      fail(kNonFinite, std::string(what) + " is not finite at column " + std::to_string(j) + " (" +
                           std::to_string(a[j]) + ")");
    if (a[j] < 0.0f)
      fail(kRangeError, std::string(what) + " must be >= 0, got " + std::to_string(a[j]) + " at column " +
                            std::to_string(j));
  }
}

void check_score_params(const ScoreParams& sp, size_t rows, size_t cols) {
  if (!(sp.p > 0.0 && sp.p <= 4.0)) fail(kRangeError, "score exponent p must be in (0, 4], got " + std::to_string(sp.p));
  if (!(sp.q >= 0.0 && sp.q <= 4.0)) fail(kRangeError, "score exponent q must be in [0, 4], got " + std::to_string(sp.q));
  if (sp.q != 0.0) {
    if (!sp.act) fail(kShapeError, "score exponent q != 0 needs a per-column statistic");
    check_statistic(sp.act, cols, "statistic");
  }
  if (!sp.per_weight) return;
  if (!(sp.per_weight_exp > 0.0 && sp.per_weight_exp <= 4.0))
    fail(kRangeError, "per-weight exponent must be in (0, 4], got " + std::to_string(sp.per_weight_exp));
  if (!(std::isfinite(sp.per_weight_scale) && sp.per_weight_scale >= 0.0 && std::isfinite(sp.act_scale) && sp.act_scale >= 0.0))
    fail(kRangeError, "per-weight and per-column scales must be finite and >= 0");
  size_t bad = first_nonfinite(sp.per_weight, rows * cols);
  if (bad != rows * cols)
    fail(kNonFinite, "per-weight statistic is not finite at row " + std::to_string(bad / cols) + ", column " + std::to_string(bad % cols));
}

}  // namespace shears
