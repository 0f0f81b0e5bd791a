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
inline float act_grad(float x) {
  if constexpr (A == ActKind::Silu) {
    const float s = 1.0f / (1.0f + std::exp(-x));
    return s * (1.0f + x * (1.0f - s));
  }
  if constexpr (A == ActKind::Relu) return x > 0.0f ? 1.0f : 0.0f;
  if constexpr (A == ActKind::Gelu)
    return 0.5f * (1.0f + std::erf(x * 0.70710678118654752f)) + x * 0.39894228040143268f * std::exp(-0.5f * x * x);
  if constexpr (A == ActKind::GeluTanh) {
    const float c = 0.79788456080286536f, a = 0.044715f;
    const float t = std::tanh(c * (x + a * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * a * x * x);
  }
  return 1.0f;
}

template <ActKind A>
void run_backward(const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n) {
  parallel_for(static_cast<size_t>(n), 1 << 14, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float d = dm[i];
      if (u) {
        du[i] = d * act<A>(g[i]);
        dg[i] = d * u[i] * act_grad<A>(g[i]);
      } else {
        dg[i] = d * act_grad<A>(g[i]);
      }
    }
  });
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

void activate_backward(ActKind a, const float* g, const float* u, const float* dm, float* dg, float* du, int64_t n) {
  switch (a) {
    case ActKind::Silu: return run_backward<ActKind::Silu>(g, u, dm, dg, du, n);
    case ActKind::Relu: return run_backward<ActKind::Relu>(g, u, dm, dg, du, n);
    case ActKind::Gelu: return run_backward<ActKind::Gelu>(g, u, dm, dg, du, n);
    case ActKind::GeluTanh: return run_backward<ActKind::GeluTanh>(g, u, dm, dg, du, n);
  }
}

}  // namespace shears
