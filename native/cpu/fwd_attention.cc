#include "cpu/fwd_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace shears {

namespace {

// Eight independent partial sums: a fixed order the compiler can vectorize.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

constexpr int64_t kQueryChunk = 32;

}  // namespace

void causal_attention(const float* q, const float* k, const float* v, float* out, int64_t batch, int64_t seq,
                      int64_t start, int64_t capacity, int64_t heads, int64_t kv_heads, int64_t head_dim) {
  const int64_t group = heads / kv_heads;
  const int64_t qw = heads * head_dim, kw = kv_heads * head_dim;
  const int64_t chunks = (seq + kQueryChunk - 1) / kQueryChunk;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  // Tasks: (sequence, head, chunk of queries); later chunks cost more, so hand them out first.
  const size_t tasks = static_cast<size_t>(batch * heads * chunks);
  parallel_for(tasks, 1, [&](size_t, size_t t0, size_t t1) {
    std::vector<float> p(static_cast<size_t>(start + seq));
    std::vector<float> acc(static_cast<size_t>(head_dim));
    for (size_t t = t0; t < t1; ++t) {
      const int64_t c = chunks - 1 - static_cast<int64_t>(t) % chunks;
      const int64_t bh = static_cast<int64_t>(t) / chunks;
      const int64_t b = bh / heads, h = bh % heads, kh = h / group;
      const int64_t base = b * seq, kbase = b * capacity;
      for (int64_t t = c * kQueryChunk; t < std::min(seq, (c + 1) * kQueryChunk); ++t) {
        const int64_t i = start + t;  // position of this query
        const float* qi = q + (base + t) * qw + h * head_dim;
        float mx = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const float s = dot(qi, k + (kbase + j) * kw + kh * head_dim, head_dim) * scale;
          p[static_cast<size_t>(j)] = s;
          mx = std::max(mx, s);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          const float e = std::exp(p[static_cast<size_t>(j)] - mx);
          p[static_cast<size_t>(j)] = e;
          sum += e;
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j <= i; ++j) {
          const float w = p[static_cast<size_t>(j)];
          const float* vj = v + (kbase + j) * kw + kh * head_dim;
          for (int64_t d = 0; d < head_dim; ++d) acc[static_cast<size_t>(d)] += w * vj[d];
        }
        const float inv = static_cast<float>(1.0 / sum);
        float* o = out + (base + t) * qw + h * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) o[d] = acc[static_cast<size_t>(d)] * inv;
      }
    }
  });
}

}  // namespace shears
