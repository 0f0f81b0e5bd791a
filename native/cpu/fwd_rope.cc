#include "cpu/fwd_rope.h"

#include <cmath>

#include "core/thread_pool.h"

namespace shears {

std::vector<double> rope_inv_freq(const RopeSpec& spec) {
  const int64_t half = spec.dim / 2;
  std::vector<double> f(static_cast<size_t>(half));
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < half; ++i) {
    double v = std::pow(spec.theta, -2.0 * static_cast<double>(i) / static_cast<double>(spec.dim));
    if (spec.llama3) {
      // Llama 3.1: keep high frequencies, divide low ones by `factor`, blend between.
      const double low_wavelen = spec.original_context / spec.low_freq_factor;
      const double high_wavelen = spec.original_context / spec.high_freq_factor;
      const double wavelen = 2.0 * pi / v;
      if (wavelen > low_wavelen) {
        v = v / spec.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (spec.original_context / wavelen - spec.low_freq_factor) / (spec.high_freq_factor - spec.low_freq_factor);
        v = (1.0 - smooth) * v / spec.factor + smooth * v;
      }
    }
    f[static_cast<size_t>(i)] = v;
  }
  return f;
}

RopeTable rope_table(const RopeSpec& spec, int64_t seq) {
  RopeTable t;
  t.half = spec.dim / 2;
  const std::vector<double> f = rope_inv_freq(spec);
  t.cos.resize(static_cast<size_t>(seq * t.half));
  t.sin.resize(t.cos.size());
  for (int64_t p = 0; p < seq; ++p)
    for (int64_t i = 0; i < t.half; ++i) {
      const double a = static_cast<double>(p) * f[static_cast<size_t>(i)];
      t.cos[static_cast<size_t>(p * t.half + i)] = static_cast<float>(std::cos(a));
      t.sin[static_cast<size_t>(p * t.half + i)] = static_cast<float>(std::sin(a));
    }
  return t;
}

namespace {

// Rotates every (a, b) pair of the rows by +angle (sign 1) or -angle (sign -1).
void rotate(const RopeSpec& spec, const RopeTable& table, float* x, int64_t rows, int64_t seq, int64_t start,
            int64_t n_heads, int64_t head_dim, float sign) {
  const int64_t half = table.half, width = n_heads * head_dim;
  const bool interleaved = spec.layout == RopeLayout::Interleaved;
  parallel_for(static_cast<size_t>(rows), 32, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const int64_t pos = start + static_cast<int64_t>(r) % seq;
      const float* c = table.cos.data() + pos * half;
      const float* s = table.sin.data() + pos * half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<int64_t>(r) * width + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
          const float a = v[ia], b = v[ib], sn = sign * s[i];
          v[ia] = a * c[i] - b * sn;
          v[ib] = a * sn + b * c[i];
        }
      }
    }
  });
}

}  // namespace

void apply_rope(const RopeSpec& spec, const RopeTable& table, float* x, int64_t rows, int64_t seq, int64_t start,
                int64_t n_heads, int64_t head_dim) {
  rotate(spec, table, x, rows, seq, start, n_heads, head_dim, 1.0f);
}

void rope_backward(const RopeSpec& spec, const RopeTable& table, float* dx, int64_t rows, int64_t seq, int64_t start,
                   int64_t n_heads, int64_t head_dim) {
  rotate(spec, table, dx, rows, seq, start, n_heads, head_dim, -1.0f);
}

}  // namespace shears
