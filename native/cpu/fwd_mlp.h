// MLP activations, in place on [n] float32 values.
//   gated: g = act(g) * u   (SwiGLU when act = silu)     ungated: g = act(g)
//   silu(x) = x / (1 + e^-x); relu(x) = max(x, 0); gelu(x) = x/2 (1 + erf(x / sqrt 2));
//   gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

void activate(ActKind act, float* g, const float* u, int64_t n);

}  // namespace shears
