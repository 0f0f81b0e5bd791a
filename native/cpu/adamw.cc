#include "cpu/adamw.h"

#include <cmath>

#include "core/thread_pool.h"
#include "cpu/bitmask.h"

namespace shears {
namespace {

// The smallest nonzero value of the storage dtype with the sign of `like`, as stored bits
// (f16/bf16) or a float (f32): what a kept weight that would round to zero becomes.
inline float tiny_f32(float like) { return std::signbit(like) ? -1.4e-45f : 1.4e-45f; }
inline uint16_t tiny_half(float like) { return std::signbit(like) ? 0x8001u : 0x0001u; }

// Stores w into element i; under a keep-mask never as zero (the zero pattern stays exact).
inline void store_kept(const AdamWTensor& t, size_t i, float w) {
  const bool masked = t.keep != nullptr;
  switch (t.dtype) {
    case DType::F32: static_cast<float*>(t.param)[i] = masked && w == 0.0f ? tiny_f32(w) : w; return;
    case DType::F16: {
      uint16_t h = f32_to_f16(w);
      static_cast<uint16_t*>(t.param)[i] = masked && (h & 0x7fffu) == 0 ? tiny_half(w) : h;
      return;
    }
    case DType::BF16: {
      uint16_t h = f32_to_bf16(w);
      static_cast<uint16_t*>(t.param)[i] = masked && (h & 0x7fffu) == 0 ? tiny_half(w) : h;
      return;
    }
  }
}

inline void store_zero(const AdamWTensor& t, size_t i) {
  if (t.dtype == DType::F32) static_cast<float*>(t.param)[i] = 0.0f;
  else static_cast<uint16_t*>(t.param)[i] = 0;
}

}  // namespace

void adamw_step(const AdamWTensor& t, const AdamWParams& p) {
  // PyTorch's AdamW: w *= 1 - lr*wd; m, v updated; w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
  const double bc1 = 1.0 - std::pow(p.beta1, static_cast<double>(p.step));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(p.beta2, static_cast<double>(p.step)));
  const double step_size = p.lr / bc1;
  const double decay = 1.0 - p.lr * p.weight_decay;
  const bool ewc = p.fisher != nullptr && p.anchor != nullptr && p.ewc_lambda != 0.0;
  float* master = t.dtype == DType::F32 ? static_cast<float*>(t.param) : t.master;
  parallel_for(t.n, 1 << 14, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      if (t.keep && !get_bit(t.keep, i)) {
        store_zero(t, i);
        if (master) master[i] = 0.0f;
        t.m[i] = 0.0f;
        t.v[i] = 0.0f;
        continue;
      }
      const double w = master[i];
      double g = t.grad[i];
      if (ewc) g += p.ewc_lambda * static_cast<double>(p.fisher[i]) * (w - static_cast<double>(load_f32(p.anchor, p.anchor_dtype, i)));
      const double m = p.beta1 * static_cast<double>(t.m[i]) + (1.0 - p.beta1) * g;
      const double v = p.beta2 * static_cast<double>(t.v[i]) + (1.0 - p.beta2) * g * g;
      const float mf = static_cast<float>(m), vf = static_cast<float>(v);
      t.m[i] = mf;
      t.v[i] = vf;
      const double denom = std::sqrt(static_cast<double>(vf)) / bc2_sqrt + p.eps;
      const float wf = static_cast<float>(w * decay - step_size * static_cast<double>(mf) / denom);
      if (t.dtype != DType::F32) master[i] = wf;
      store_kept(t, i, wf);
    }
  });
}

}  // namespace shears
