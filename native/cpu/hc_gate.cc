#include "cpu/hc_gate.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace shears {

namespace {

constexpr size_t kGrain = 1 << 14;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

double HcGate::open_shift() const { return beta * std::log(-gamma / zeta); }

void check_gate(const HcGate& g) {
  if (!(g.beta > 0.0 && std::isfinite(g.beta)))
    fail(kRangeError, "hard-concrete beta must be a finite number > 0");
  if (!(g.gamma < 0.0 && g.zeta > 1.0 && std::isfinite(g.gamma) && std::isfinite(g.zeta)))
    fail(kRangeError, "hard-concrete stretch needs gamma < 0 and zeta > 1 (finite)");
}

void hc_uniforms(VdRng& rng, float* u, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    // float rounding of a double in (0, 1) can reach 1 (or 0): keep log(1 - u) finite.
    const float v = static_cast<float>(rng.uniform());
    u[i] = std::min(std::max(v, 1e-7f), 1.0f - 6e-8f);
  }
}

void hc_gate(const float* theta, const float* u, size_t n, const HcGate& g, float* z, float* dz) {
  const double span = g.zeta - g.gamma;
  parallel_for(n, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const double logit = u ? (std::log(static_cast<double>(u[i])) - std::log1p(-static_cast<double>(u[i])) + theta[i]) / g.beta
                             : static_cast<double>(theta[i]);
      const double s = sigmoid(logit);
      const double stretched = s * span + g.gamma;
      z[i] = static_cast<float>(std::min(1.0, std::max(0.0, stretched)));
      if (dz) dz[i] = stretched > 0.0 && stretched < 1.0 ? static_cast<float>(span * s * (1.0 - s) / (u ? g.beta : 1.0)) : 0.0f;
    }
  });
}

void hc_effective(const float* w, const float* z, size_t n, float* w_eff) {
  parallel_for(n, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) w_eff[i] = w[i] * z[i];
  });
}

void hc_chain(const float* d_w_eff, const float* w, const float* dz, size_t n, float* d_theta) {
  parallel_for(n, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) d_theta[i] = d_w_eff[i] * w[i] * dz[i];
  });
}

double hc_open_sum(const float* theta, size_t n, const HcGate& g, double scale, float* d_theta) {
  const double shift = g.open_shift();
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double p = sigmoid(theta[i] - shift);
    sum += p;
    if (d_theta) d_theta[i] += static_cast<float>(scale * p * (1.0 - p));
  }
  return sum;
}

}  // namespace shears
