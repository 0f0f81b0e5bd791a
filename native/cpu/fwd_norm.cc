#include "cpu/fwd_norm.h"

#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace shears {

namespace {

constexpr size_t kRowsPerPartial = 32;

// Mean and 1/sqrt(var + eps) of a row (the backward recomputes them from the input).
void row_stats(const NormSpec& spec, const float* x, size_t d, float& mean, float& inv) {
  double m = 0.0;
  if (spec.kind == NormKind::Layer) {
    for (size_t j = 0; j < d; ++j) m += x[j];
    m /= static_cast<double>(d);
  }
  double ss = 0.0;
  for (size_t j = 0; j < d; ++j) {
    const double c = x[j] - m;
    ss += c * c;
  }
  inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + spec.eps));
  mean = static_cast<float>(m);
}

}  // namespace

void norm_rows(const NormSpec& spec, const float* in, float* out, int64_t rows, int64_t dim) {
  const std::vector<float> w = vec_f32(spec.weight), b = vec_f32(spec.bias);
  const size_t d = static_cast<size_t>(dim);
  parallel_for(static_cast<size_t>(rows), 16, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* x = in + r * d;
      float* y = out + r * d;
      float m, inv;
      row_stats(spec, x, d, m, inv);
      for (size_t j = 0; j < d; ++j) {
        float v = (x[j] - m) * inv;
        if (!w.empty()) v *= w[j];
        if (!b.empty()) v += b[j];
        y[j] = v;
      }
    }
  });
}

void norm_backward(const NormSpec& spec, const float* in, const float* dout, float* dx, bool accumulate, float* dw,
                   float* db, int64_t rows, int64_t dim) {
  const std::vector<float> w = vec_f32(spec.weight);
  const size_t d = static_cast<size_t>(dim), n = static_cast<size_t>(rows);
  const size_t chunks = chunk_count(n, kRowsPerPartial);
  // Per chunk of rows: its share of dw and db.
  std::vector<double> pw(dw ? chunks * d : 0), pb(db ? chunks * d : 0);
  parallel_for(n, kRowsPerPartial, [&](size_t ci, size_t r0, size_t r1) {
    std::vector<double> g(d);
    for (size_t r = r0; r < r1; ++r) {
      const float* x = in + r * d;
      const float* dy = dout + r * d;
      float mean, inv;
      row_stats(spec, x, d, mean, inv);
      double gsum = 0.0, gx = 0.0;
      for (size_t j = 0; j < d; ++j) {
        const double xh = static_cast<double>((x[j] - mean) * inv);
        g[j] = w.empty() ? dy[j] : static_cast<double>(dy[j]) * w[j];
        gsum += g[j];
        gx += g[j] * xh;
        if (dw) pw[ci * d + j] += static_cast<double>(dy[j]) * xh;
        if (db) pb[ci * d + j] += dy[j];
      }
      const double mg = spec.kind == NormKind::Layer ? gsum / static_cast<double>(d) : 0.0;
      const double mgx = gx / static_cast<double>(d);
      float* o = dx + r * d;
      for (size_t j = 0; j < d; ++j) {
        const double xh = static_cast<double>((x[j] - mean) * inv);
        const float v = static_cast<float>(inv * (g[j] - mg - xh * mgx));
        o[j] = accumulate ? o[j] + v : v;
      }
    }
  });
  // Chunks in order, columns in parallel.
  parallel_for(d, 256, [&](size_t, size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; ++j) {
      double sw = 0.0, sb = 0.0;
      for (size_t c = 0; c < chunks; ++c) {
        if (dw) sw += pw[c * d + j];
        if (db) sb += pb[c * d + j];
      }
      if (dw) dw[j] += static_cast<float>(sw);
      if (db) db[j] += static_cast<float>(sb);
    }
  });
}

}  // namespace shears
