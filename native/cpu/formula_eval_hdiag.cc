// hdiag of the formula method: the diagonal of the inverse of SparseGPT's damped Hessian,
// the denominator of the OBS saliency w^2 / [H^-1]_jj. H = L L^T (Cholesky), so
// H^-1 = L^-T L^-1 and [H^-1]_jj = sum_{i >= j} (L^-1)_ij^2 (column norms of L^-1).
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/formula_eval.h"
#include "cpu/linalg.h"

namespace shears {

void formula_hdiag(const void* s, bool s_f64, size_t cols, double count, double percdamp, float* out) {
  if (!(count > 0)) fail(kRangeError, "hdiag needs X^T X of at least one calibration token");
  const size_t n = cols;
  std::vector<double> h(n * n);
  for (size_t k = 0; k < n * n; ++k) {
    const double v = s_f64 ? static_cast<const double*>(s)[k] : static_cast<double>(static_cast<const float*>(s)[k]);
    if (!std::isfinite(v)) fail(kNonFinite, "the Hessian statistic (X^T X) is not finite at row " + std::to_string(k / n) + ", column " + std::to_string(k % n));
    h[k] = 2.0 * v / count;
  }
  double trace = 0;
  for (size_t j = 0; j < n; ++j) {
    double& d = h[j * n + j];
    if (d == 0.0) d = 1.0;  // a dead input, as SparseGPT treats it
    trace += d;
  }
  const double damp = percdamp * trace / static_cast<double>(n);
  for (size_t j = 0; j < n; ++j) h[j * n + j] += damp;
  const size_t ok = linalg::cholesky_lower(h.data(), n);
  if (ok != n) fail(kRangeError, "the damped X^T X is not positive definite at column " + std::to_string(ok) + " (hdiag)");
  linalg::invert_lower(h.data(), n);
  for (size_t j = 0; j < n; ++j) {
    double sum = 0;
    for (size_t i = j; i < n; ++i) sum += h[i * n + j] * h[i * n + j];
    out[j] = static_cast<float>(sum);
  }
}

}  // namespace shears
