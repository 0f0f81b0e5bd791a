// Attention as two small matmuls per (sequence, head, chunk of queries), on the
// blocked matmul kernel: S = Q K^T over the keys the chunk can see, a masked softmax
// per row, then O = P V against V^T (transposed once per kv head). Only the diagonal
// chunk computes scores it then masks.
#include "cpu/fwd_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/matmul.h"

namespace shears {

namespace {

constexpr int64_t kQueryChunk = 64;

MatrixView f32_matrix(const float* data, int64_t rows, int64_t cols) {
  MatrixView m;
  m.data = const_cast<float*>(data);  // read only: the matmul never writes W
  m.dtype = DType::F32;
  m.rows = rows;
  m.cols = cols;
  return m;
}

}  // namespace

void causal_attention(const float* q, const float* k, const float* v, float* out, int64_t batch, int64_t seq,
                      int64_t start, int64_t capacity, int64_t heads, int64_t kv_heads, int64_t head_dim) {
  const int64_t group = heads / kv_heads;
  const int64_t qw = heads * head_dim, kw = kv_heads * head_dim;
  const int64_t total = start + seq;  // keys of each sequence
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));

  // V^T per (sequence, kv head): [head_dim, total].
  std::vector<float> vt(static_cast<size_t>(batch * kv_heads * head_dim * total));
  parallel_for(static_cast<size_t>(batch * kv_heads), 1, [&](size_t, size_t b0, size_t b1) {
    for (size_t bk = b0; bk < b1; ++bk) {
      const int64_t b = static_cast<int64_t>(bk) / kv_heads, kh = static_cast<int64_t>(bk) % kv_heads;
      float* dst = vt.data() + bk * static_cast<size_t>(head_dim * total);
      for (int64_t j = 0; j < total; ++j) {
        const float* src = v + (b * capacity + j) * kw + kh * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) dst[d * total + j] = src[d];
      }
    }
  });

  const int64_t chunks = (seq + kQueryChunk - 1) / kQueryChunk;
  const size_t tasks = static_cast<size_t>(batch * heads * chunks);
  // Later chunks see more keys: hand them out first (chunk index reversed).
  parallel_for(tasks, 1, [&](size_t, size_t t0, size_t t1) {
    std::vector<float> s(static_cast<size_t>(kQueryChunk * total));
    for (size_t t = t0; t < t1; ++t) {
      const int64_t c = chunks - 1 - static_cast<int64_t>(t) % chunks;
      const int64_t bh = static_cast<int64_t>(t) / chunks;
      const int64_t b = bh / heads, h = bh % heads, kh = h / group;
      const int64_t q0 = c * kQueryChunk, nq = std::min(kQueryChunk, seq - q0);
      const int64_t keys = start + q0 + nq;
      // S[r][j] = q_r . k_j
      matmul_strided(q + (b * seq + q0) * qw + h * head_dim, qw, nq,
                     f32_matrix(k + b * capacity * kw + kh * head_dim, keys, head_dim), kw, nullptr, s.data(), keys,
                     false);
      // Softmax over the keys each query may see (positions <= its own), zero beyond.
      for (int64_t r = 0; r < nq; ++r) {
        float* row = s.data() + r * keys;
        const int64_t last = start + q0 + r;
        float mx = -INFINITY;
        for (int64_t j = 0; j <= last; ++j) {
          row[j] *= scale;
          mx = std::max(mx, row[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= last; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= last; ++j) row[j] *= inv;
        for (int64_t j = last + 1; j < keys; ++j) row[j] = 0.0f;
      }
      // O[r] = sum_j P[r][j] v_j
      matmul_strided(s.data(), keys, nq,
                     f32_matrix(vt.data() + static_cast<size_t>((b * kv_heads + kh) * head_dim * total), head_dim, keys),
                     total, nullptr, out + (b * seq + q0) * qw + h * head_dim, qw, false);
    }
  });
}

}  // namespace shears
