// The hard-concrete gate (Louizos, Welling & Kingma 2018, "Learning Sparse Neural Networks
// through L0 Regularization"), one per weight, for the learned masks of query-aware pruning
// (docs/query-aware-building-blocks.md, "Learned masks"):
//   s = sigmoid((log u - log(1 - u) + theta) / beta),  u ~ U(0, 1)
//   z = clamp(s * (zeta - gamma) + gamma, 0, 1)
//   P(z > 0) = sigmoid(theta - beta * log(-gamma / zeta))
// and at evaluation the mean gate clamp(sigmoid(theta) * (zeta - gamma) + gamma, 0, 1).
// Elementwise; each element is touched by one thread, so results do not depend on the
// thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/vd_random.h"

namespace shears {

struct HcGate {
  double beta = 2.0 / 3.0;
  double gamma = -0.1;
  double zeta = 1.1;
  // theta's shift in P(z > 0): beta * log(-gamma / zeta).
  double open_shift() const;
};

// Throws E_RANGE unless beta > 0 and gamma < 0 < 1 < zeta.
void check_gate(const HcGate& g);

// Uniforms in (0, 1) for one step's gates, drawn in order from the seeded stream.
void hc_uniforms(VdRng& rng, float* u, size_t n);

// The sampled gate z and dz/dtheta (0 where the clamp holds) for the given uniforms; u null:
// the mean gate (dz/dtheta of sigmoid(theta) instead). dz may be null.
void hc_gate(const float* theta, const float* u, size_t n, const HcGate& g, float* z, float* dz);

// W_eff = w * z (w float32).
void hc_effective(const float* w, const float* z, size_t n, float* w_eff);

// The chain rule from W_eff to theta: d_theta = d_w_eff * w * dz (written).
void hc_chain(const float* d_w_eff, const float* w, const float* dz, size_t n, float* d_theta);

// sum over the n gates of P(z > 0), in float64 (fixed order); with d_theta non-null, adds
// scale * dP/dtheta to it.
double hc_open_sum(const float* theta, size_t n, const HcGate& g, double scale, float* d_theta);

}  // namespace shears
