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
#include "cpu/transpose.h"

namespace shears {

namespace {

constexpr int64_t kQueryChunk = 64;

// Scales a row of scores and takes the softmax over keys [0, last], zero up to `keys`.
void softmax_prefix(float* row, int64_t last, int64_t keys, float scale) {
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
      for (int64_t r = 0; r < nq; ++r) softmax_prefix(s.data() + r * keys, start + q0 + r, keys, scale);
      // O[r] = sum_j P[r][j] v_j
      matmul_strided(s.data(), keys, nq,
                     f32_matrix(vt.data() + static_cast<size_t>((b * kv_heads + kh) * head_dim * total), head_dim, keys),
                     total, nullptr, out + (b * seq + q0) * qw + h * head_dim, qw, false);
    }
  });
}

namespace {

// dP -> scale * P * (dP - P.dP) over keys [0, last] of a row, zero up to `keys`.
void softmax_backward_prefix(const float* p, float* dp, int64_t last, int64_t keys, float scale) {
  double dot = 0.0;
  for (int64_t j = 0; j <= last; ++j) dot += static_cast<double>(p[j]) * dp[j];
  const float d = static_cast<float>(dot);
  for (int64_t j = 0; j <= last; ++j) dp[j] = scale * p[j] * (dp[j] - d);
  for (int64_t j = last + 1; j < keys; ++j) dp[j] = 0.0f;
}

}  // namespace

void causal_attention_backward(const float* q, const float* k, const float* v, const float* dout, float* dq, float* dk,
                               float* dv, int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads, int64_t head_dim) {
  const int64_t group = heads / kv_heads, hd = head_dim;
  const int64_t qw = heads * hd, kw = kv_heads * hd;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const size_t hs = static_cast<size_t>(hd * seq);
  const int64_t chunks = (seq + kQueryChunk - 1) / kQueryChunk;
  // Each query head's share of its kv head's dK and dV: [batch, heads, seq, hd].
  std::vector<float> dk_h(static_cast<size_t>(batch * heads) * hs), dv_h(dk_h.size());
  parallel_for(static_cast<size_t>(batch * heads), 1, [&](size_t, size_t t0, size_t t1) {
    const size_t cs = static_cast<size_t>(kQueryChunk * seq);
    std::vector<float> p(cs), dp(cs), tr(cs);
    for (size_t t = t0; t < t1; ++t) {
      const int64_t b = static_cast<int64_t>(t) / heads, h = static_cast<int64_t>(t) % heads, kh = h / group;
      const float* kh_ = k + b * seq * kw + kh * hd;
      const float* vh = v + b * seq * kw + kh * hd;
      float* dkh = dk_h.data() + t * hs;
      float* dvh = dv_h.data() + t * hs;
      // Chunks of queries see keys [0, q0 + nq) only, as in the forward; dK and dV
      // receive the chunks in order.
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t q0 = c * kQueryChunk, nq = std::min(kQueryChunk, seq - q0), keys = q0 + nq;
        const float* qc = q + (b * seq + q0) * qw + h * hd;
        const float* doc = dout + (b * seq + q0) * qw + h * hd;
        matmul_strided(qc, qw, nq, f32_matrix(kh_, keys, hd), kw, nullptr, p.data(), keys, false);
        for (int64_t r = 0; r < nq; ++r) softmax_prefix(p.data() + r * keys, q0 + r, keys, scale);
        matmul_strided(doc, qw, nq, f32_matrix(vh, keys, hd), kw, nullptr, dp.data(), keys, false);
        for (int64_t r = 0; r < nq; ++r)
          softmax_backward_prefix(p.data() + r * keys, dp.data() + r * keys, q0 + r, keys, scale);
        // dQ = dS K (K [keys, hd] as stored: matmul_nn).
        matmul_nn(dp.data(), keys, nq, f32_matrix(kh_, keys, hd), kw, dq + (b * seq + q0) * qw + h * hd, qw, false, false);
        // dK_h += dS^T Q, dV_h += P^T dO.
        transpose_to_f32(dp.data(), DType::F32, 0, keys, nq, keys, tr.data(), nq, false);
        matmul_nn(tr.data(), nq, keys, f32_matrix(qc, nq, hd), qw, dkh, hd, true, false);
        transpose_to_f32(p.data(), DType::F32, 0, keys, nq, keys, tr.data(), nq, false);
        matmul_nn(tr.data(), nq, keys, f32_matrix(doc, nq, hd), qw, dvh, hd, true, false);
      }
    }
  });
  // Sum the group's heads in head order.
  parallel_for(static_cast<size_t>(batch * seq), 16, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const int64_t b = static_cast<int64_t>(r) / seq, i = static_cast<int64_t>(r) % seq;
      for (int64_t kh = 0; kh < kv_heads; ++kh)
        for (int64_t d = 0; d < hd; ++d) {
          float sk = 0.0f, sv = 0.0f;
          for (int64_t g = 0; g < group; ++g) {
            const size_t at = static_cast<size_t>((b * heads + kh * group + g) * seq + i) * static_cast<size_t>(hd) + d;
            sk += dk_h[at];
            sv += dv_h[at];
          }
          dk[static_cast<int64_t>(r) * kw + kh * hd + d] = sk;
          dv[static_cast<int64_t>(r) * kw + kh * hd + d] = sv;
        }
    }
  });
}

}  // namespace shears
