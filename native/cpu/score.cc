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

size_t score_row(const void* w, DType t, size_t offset, size_t n, const ScoreParams& sp, float* out) {
  to_f32(w, t, offset, n, out);
  // Finiteness first, in one vectorizable pass; locate only when something is wrong.
  bool ok = true;
  for (size_t j = 0; j < n; ++j) ok &= finite_bits(out[j]);
  if (!ok) {
    for (size_t j = 0; j < n; ++j)
      if (!finite_bits(out[j])) return j;
  }
  const float* a = sp.act;
  if (sp.p == 1.0 && sp.q == 0.0) {
    for (size_t j = 0; j < n; ++j) out[j] = std::fabs(out[j]);
  } else if (sp.p == 1.0 && sp.q == 1.0) {
    // float product of two floats == double product rounded to float: same as the general path
    for (size_t j = 0; j < n; ++j) out[j] = std::fabs(out[j]) * a[j];
  } else {
    // Powers in double (no overflow for p, q <= 4), one rounding to float at the end.
    const double p = sp.p, q = sp.q;
    auto pw = [](double x, double e) -> double {
      if (e == 1.0) return x;
      if (e == 2.0) return x * x;
      if (e == 0.5) return std::sqrt(x);
      if (e == 0.0) return 1.0;
      return std::pow(x, e);
    };
    for (size_t j = 0; j < n; ++j) {
      double s = pw(std::fabs(static_cast<double>(out[j])), p);
      if (q != 0.0) s *= pw(static_cast<double>(a[j]), q);
      out[j] = static_cast<float>(s);
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

void check_score_params(const ScoreParams& sp, size_t cols) {
  if (!(sp.p > 0.0 && sp.p <= 4.0)) fail(kRangeError, "score exponent p must be in (0, 4], got " + std::to_string(sp.p));
  if (!(sp.q >= 0.0 && sp.q <= 4.0)) fail(kRangeError, "score exponent q must be in [0, 4], got " + std::to_string(sp.q));
  if (sp.q != 0.0) {
    if (!sp.act) fail(kShapeError, "score exponent q != 0 needs a per-column statistic");
    check_statistic(sp.act, cols, "statistic");
  }
}

}  // namespace shears
