// MLP activations, in place on [n] float32 values.
//   gated: g = act(g) * u   (SwiGLU when act = silu)     ungated: g = act(g)
//   silu(x) = x / (1 + e^-x); relu(x) = max(x, 0); gelu(x) = x/2 (1 + erf(x / sqrt 2));
//   gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

void activate(ActKind act, float* g, const float* u, int64_t n);

// Backward of activate, from the saved pre-activation g (and u when gated) and the
// gradient dm of its output: dg = dm * act'(g) (* u when gated), du = dm * act(g)
// (du null when not gated). dg may be dm.
//   silu' = s (1 + x (1 - s)), s = sigmoid(x); relu' = [x > 0];
//   gelu' = Phi(x) + x phi(x); gelu_tanh' = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2)
void activate_backward(ActKind act, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n);

}  // namespace shears
