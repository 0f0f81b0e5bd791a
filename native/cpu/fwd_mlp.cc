#include "cpu/fwd_mlp.h"

#include <cmath>

#include "core/thread_pool.h"

namespace shears {

namespace {

template <ActKind A>
inline float act(float x) {
  if constexpr (A == ActKind::Silu) return x / (1.0f + std::exp(-x));
  if constexpr (A == ActKind::Relu) return x > 0.0f ? x : 0.0f;
  if constexpr (A == ActKind::Gelu) return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
  if constexpr (A == ActKind::GeluTanh)
    return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
  return x;
}

template <ActKind A>
void run(float* g, const float* u, int64_t n) {
  parallel_for(static_cast<size_t>(n), 1 << 14, [&](size_t, size_t b, size_t e) {
    if (u)
      for (size_t i = b; i < e; ++i) g[i] = act<A>(g[i]) * u[i];
    else
      for (size_t i = b; i < e; ++i) g[i] = act<A>(g[i]);
  });
}

}  // namespace

void activate(ActKind a, float* g, const float* u, int64_t n) {
  switch (a) {
    case ActKind::Silu: return run<ActKind::Silu>(g, u, n);
    case ActKind::Relu: return run<ActKind::Relu>(g, u, n);
    case ActKind::Gelu: return run<ActKind::Gelu>(g, u, n);
    case ActKind::GeluTanh: return run<ActKind::GeluTanh>(g, u, n);
  }
}

}  // namespace shears
