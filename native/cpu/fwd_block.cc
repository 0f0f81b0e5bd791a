#include "cpu/fwd_block.h"

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/fwd_attention.h"
#include "cpu/fwd_mlp.h"
#include "cpu/fwd_norm.h"
#include "cpu/fwd_rope.h"
#include "cpu/matmul.h"

namespace shears {

namespace {

void check_matrix(const MatrixView& m, int64_t rows, int64_t cols, const char* what) {
  if (!m.data) fail(kShapeError, std::string("block weight ") + what + " is missing");
  if (m.rows != rows || m.cols != cols)
    fail(kShapeError, std::string("block weight ") + what + " is [" + std::to_string(m.rows) + ", " +
                          std::to_string(m.cols) + "], expected [" + std::to_string(rows) + ", " + std::to_string(cols) +
                          "]");
}

void check_vec(const VecView& v, int64_t n, const char* what) {
  if (v.present() && v.n != n)
    fail(kShapeError, std::string("block vector ") + what + " has " + std::to_string(v.n) + " elements, expected " +
                          std::to_string(n));
}

void copy_rows(float* dst, const float* src, size_t n) {
  if (dst) std::memcpy(dst, src, n * sizeof(float));
}

// h[i] += d[i]
void add_into(float* h, const float* d, size_t n) {
  parallel_for(n, 1 << 15, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) h[i] += d[i];
  });
}

// y = x W^T + bias, with the bias converted to float32 first.
void linear(const float* x, int64_t n, const MatrixView& w, const VecView& bias, float* y) {
  const std::vector<float> b = vec_f32(bias);
  matmul(x, n, w, b.empty() ? nullptr : b.data(), y);
}

// A block's linear layer `which`: the dense linear, then the seam's part (if any).
void block_linear(const BlockSpec& b, BlockLinear which, const float* x, int64_t n, const MatrixView& w, const VecView& bias,
                  float* y) {
  linear(x, n, w, bias, y);
  if (b.seam) b.seam->after_forward(which, x, n, y);
}

// Backward of block_linear: the dense linear's, then the seam's.
void block_linear_backward(const BlockSpec& b, BlockLinear which, const float* x, const float* dy, int64_t n,
                           const MatrixView& w, float* dx, bool accumulate_dx, float* dw, float* db) {
  linear_backward(x, dy, n, w, dx, accumulate_dx, dw, db, false);
  if (b.seam) b.seam->after_backward(which, x, n, dy, dx);
}

}  // namespace

void check_block(const BlockSpec& b) {
  // heads == 0: the block has no attention sublayer; intermediate == 0: no MLP (structured
  // pruning removed them, as llama.cpp's deci architecture allows).
  if (b.hidden <= 0 || b.heads < 0 || b.kv_heads < 0 || b.head_dim <= 0 || b.intermediate < 0)
    fail(kShapeError, "block dimensions must be positive (heads and intermediate may be 0: sublayer removed)");
  if (b.has_attention()) {
    if (b.kv_heads <= 0 || b.heads % b.kv_heads != 0)
      fail(kShapeError, "heads (" + std::to_string(b.heads) + ") must be a positive multiple of kv heads (" +
                            std::to_string(b.kv_heads) + ")");
    if (b.rope.enabled && (b.rope.dim <= 0 || b.rope.dim % 2 != 0 || b.rope.dim > b.head_dim))
      fail(kShapeError, "rope dim must be even and in (0, head dim], got " + std::to_string(b.rope.dim));
    const int64_t qd = b.heads * b.head_dim, kd = b.kv_heads * b.head_dim;
    check_matrix(b.q, qd, b.hidden, "q");
    check_matrix(b.k, kd, b.hidden, "k");
    check_matrix(b.v, kd, b.hidden, "v");
    check_matrix(b.o, b.hidden, qd, "o");
    check_vec(b.q_bias, qd, "q bias");
    check_vec(b.k_bias, kd, "k bias");
    check_vec(b.v_bias, kd, "v bias");
    check_vec(b.o_bias, b.hidden, "o bias");
    check_vec(b.attn_norm.weight, b.hidden, "attn norm weight");
    check_vec(b.attn_norm.bias, b.hidden, "attn norm bias");
  }
  if (b.has_mlp()) {
    if (b.gated) {
      check_matrix(b.gate, b.intermediate, b.hidden, "gate");
      check_vec(b.gate_bias, b.intermediate, "gate bias");
    }
    check_matrix(b.up, b.intermediate, b.hidden, b.gated ? "up" : "fc1");
    check_matrix(b.down, b.hidden, b.intermediate, b.gated ? "down" : "fc2");
    check_vec(b.up_bias, b.intermediate, b.gated ? "up bias" : "fc1 bias");
    check_vec(b.down_bias, b.hidden, b.gated ? "down bias" : "fc2 bias");
    check_vec(b.mlp_norm.weight, b.hidden, "mlp norm weight");
    check_vec(b.mlp_norm.bias, b.hidden, "mlp norm bias");
  }
}

namespace {

// save (null: not wanted; never with a cache) receives the activations.
void run_attention(const BlockSpec& b, float* h, std::vector<float>& x, std::vector<float>& proj, int64_t batch,
                   int64_t seq, const BlockCaptures& cap, const KvCache* kv, BlockActs* save) {
  const int64_t start = kv ? kv->start : 0;
  const int64_t T = batch * seq, H = b.hidden, qd = b.heads * b.head_dim, kd = b.kv_heads * b.head_dim;
  const size_t nh = static_cast<size_t>(T * H);
  std::vector<float> q(static_cast<size_t>(T * qd)), k(static_cast<size_t>(T * kd)), v(static_cast<size_t>(T * kd)),
      att(static_cast<size_t>(T * qd));
  // Attention. Pre-norm reads the normalized h; post-norm reads h itself.
  if (b.pre_norm)
    norm_rows(b.attn_norm, h, x.data(), T, H);
  else
    std::memcpy(x.data(), h, nh * sizeof(float));
  copy_rows(cap.attn_in, x.data(), nh);
  if (save) {
    if (b.pre_norm) save->attn_norm_in.assign(h, h + nh);
    save->attn_x = x;
  }
  block_linear(b, BlockLinear::Q, x.data(), T, b.q, b.q_bias, q.data());
  block_linear(b, BlockLinear::K, x.data(), T, b.k, b.k_bias, k.data());
  block_linear(b, BlockLinear::V, x.data(), T, b.v, b.v_bias, v.data());
  if (b.rope.enabled) {
    const RopeTable table = rope_table(b.rope, start + seq);
    apply_rope(b.rope, table, q.data(), T, seq, start, b.heads, b.head_dim);
    apply_rope(b.rope, table, k.data(), T, seq, start, b.kv_heads, b.head_dim);
  }
  if (kv) {
    // Append the new keys and values, then attend over the whole cached prefix.
    for (int64_t s = 0; s < batch; ++s) {
      const size_t dst = static_cast<size_t>((s * kv->capacity + start) * kd), src = static_cast<size_t>(s * seq * kd);
      std::memcpy(kv->k + dst, k.data() + src, static_cast<size_t>(seq * kd) * sizeof(float));
      std::memcpy(kv->v + dst, v.data() + src, static_cast<size_t>(seq * kd) * sizeof(float));
    }
    causal_attention(q.data(), kv->k, kv->v, att.data(), batch, seq, start, kv->capacity, b.heads, b.kv_heads,
                     b.head_dim);
  } else {
    causal_attention(q.data(), k.data(), v.data(), att.data(), batch, seq, 0, seq, b.heads, b.kv_heads, b.head_dim);
  }
  copy_rows(cap.o_in, att.data(), att.size());
  block_linear(b, BlockLinear::O, att.data(), T, b.o, b.o_bias, proj.data());
  add_into(h, proj.data(), nh);
  if (save && !b.pre_norm) save->attn_norm_in.assign(h, h + nh);
  if (!b.pre_norm) norm_rows(b.attn_norm, h, h, T, H);
  if (save) {
    save->q = std::move(q);
    save->k = std::move(k);
    save->v = std::move(v);
    save->att = std::move(att);
  }
}

void run_mlp(const BlockSpec& b, float* h, std::vector<float>& x, std::vector<float>& proj, int64_t T,
             const BlockCaptures& cap, BlockActs* save) {
  const int64_t H = b.hidden;
  const size_t nh = static_cast<size_t>(T * H);
  // MLP.
  if (b.pre_norm)
    norm_rows(b.mlp_norm, h, x.data(), T, H);
  else
    std::memcpy(x.data(), h, nh * sizeof(float));
  copy_rows(cap.mlp_in, x.data(), nh);
  if (save) {
    if (b.pre_norm) save->mlp_norm_in.assign(h, h + nh);
    save->mlp_x = x;
  }
  const size_t ni = static_cast<size_t>(T * b.intermediate);
  std::vector<float> g(ni), u;
  if (b.gated) {
    u.resize(ni);
    block_linear(b, BlockLinear::Gate, x.data(), T, b.gate, b.gate_bias, g.data());
    block_linear(b, BlockLinear::Up, x.data(), T, b.up, b.up_bias, u.data());
    if (save) save->g = g;
    activate(b.act, g.data(), u.data(), static_cast<int64_t>(ni));
  } else {
    block_linear(b, BlockLinear::Up, x.data(), T, b.up, b.up_bias, g.data());
    if (save) save->g = g;
    activate(b.act, g.data(), nullptr, static_cast<int64_t>(ni));
  }
  copy_rows(cap.down_in, g.data(), ni);
  block_linear(b, BlockLinear::Down, g.data(), T, b.down, b.down_bias, proj.data());
  add_into(h, proj.data(), nh);
  if (save && !b.pre_norm) save->mlp_norm_in.assign(h, h + nh);
  if (!b.pre_norm) norm_rows(b.mlp_norm, h, h, T, H);
  if (save) {
    save->u = std::move(u);
    save->m = std::move(g);
  }
}

void run_block_impl(const BlockSpec& b, float* h, int64_t batch, int64_t seq, const BlockCaptures& cap, const KvCache* kv,
                    BlockActs* save) {
  check_block(b);
  const int64_t start = kv ? kv->start : 0;
  if (kv && (start < 0 || start + seq > kv->capacity))
    fail(kRangeError, "KV cache of " + std::to_string(kv->capacity) + " positions cannot take positions " +
                          std::to_string(start) + " to " + std::to_string(start + seq - 1));
  const int64_t T = batch * seq, H = b.hidden;
  const size_t nh = static_cast<size_t>(T * H);
  std::vector<float> x(nh), proj(nh);
  if (b.has_attention()) run_attention(b, h, x, proj, batch, seq, cap, kv, save);
  if (b.has_mlp()) run_mlp(b, h, x, proj, T, cap, save);
}

}  // namespace

void run_block(const BlockSpec& b, float* h, int64_t batch, int64_t seq, const BlockCaptures& cap, const KvCache* kv) {
  run_block_impl(b, h, batch, seq, cap, kv, nullptr);
}

void run_block_saved(const BlockSpec& b, float* h, int64_t batch, int64_t seq, BlockActs& acts) {
  acts = BlockActs();
  run_block_impl(b, h, batch, seq, BlockCaptures(), nullptr, &acts);
}

namespace {

// Backward of a sublayer's residual and norm, around the sublayer's own backward
// `inner` (which maps the gradient of its output to `dx`, the gradient of its input x):
//   pre-norm:  h' = h + f(norm(h))   ->  dh += norm'(dx)      (f sees dh)
//   post-norm: h' = norm(h + f(h))   ->  dr = norm'(dh'), dh = dr + dx   (f sees dr)
template <typename Inner>
void residual_backward(const BlockSpec& b, const NormSpec& norm, const std::vector<float>& norm_in, float* dh, int64_t T,
                       float* dnorm_w, float* dnorm_b, Inner inner) {
  const int64_t H = b.hidden;
  const size_t nh = static_cast<size_t>(T * H);
  std::vector<float> dx(nh);
  if (b.pre_norm) {
    inner(dh, dx.data());
    norm_backward(norm, norm_in.data(), dx.data(), dh, true, dnorm_w, dnorm_b, T, H);
  } else {
    norm_backward(norm, norm_in.data(), dh, dh, false, dnorm_w, dnorm_b, T, H);
    inner(dh, dx.data());
    add_into(dh, dx.data(), nh);
  }
}

void attention_backward(const BlockSpec& b, const BlockActs& a, float* dh, int64_t batch, int64_t seq,
                        const BlockGrads& g) {
  const int64_t T = batch * seq, qd = b.heads * b.head_dim, kd = b.kv_heads * b.head_dim;
  residual_backward(b, b.attn_norm, a.attn_norm_in, dh, T, g.attn_norm_weight, g.attn_norm_bias,
                    [&](const float* dout, float* dx) {
                      std::vector<float> datt(static_cast<size_t>(T * qd));
                      block_linear_backward(b, BlockLinear::O, a.att.data(), dout, T, b.o, datt.data(), false, g.o, g.o_bias);
                      std::vector<float> dq(datt.size()), dk(static_cast<size_t>(T * kd)), dv(dk.size());
                      causal_attention_backward(a.q.data(), a.k.data(), a.v.data(), datt.data(), dq.data(), dk.data(),
                                                dv.data(), batch, seq, b.heads, b.kv_heads, b.head_dim);
                      if (b.rope.enabled) {
                        const RopeTable table = rope_table(b.rope, seq);
                        rope_backward(b.rope, table, dq.data(), T, seq, 0, b.heads, b.head_dim);
                        rope_backward(b.rope, table, dk.data(), T, seq, 0, b.kv_heads, b.head_dim);
                      }
                      const float* x = a.attn_x.data();
                      block_linear_backward(b, BlockLinear::Q, x, dq.data(), T, b.q, dx, false, g.q, g.q_bias);
                      block_linear_backward(b, BlockLinear::K, x, dk.data(), T, b.k, dx, true, g.k, g.k_bias);
                      block_linear_backward(b, BlockLinear::V, x, dv.data(), T, b.v, dx, true, g.v, g.v_bias);
                    });
}

void mlp_backward(const BlockSpec& b, const BlockActs& a, float* dh, int64_t T, const BlockGrads& g) {
  residual_backward(b, b.mlp_norm, a.mlp_norm_in, dh, T, g.mlp_norm_weight, g.mlp_norm_bias,
                    [&](const float* dout, float* dx) {
                      const size_t ni = static_cast<size_t>(T * b.intermediate);
                      std::vector<float> dg(ni), du(b.gated ? ni : 0);
                      block_linear_backward(b, BlockLinear::Down, a.m.data(), dout, T, b.down, dg.data(), false, g.down, g.down_bias);
                      activate_backward(b.act, a.g.data(), b.gated ? a.u.data() : nullptr, dg.data(), dg.data(),
                                        b.gated ? du.data() : nullptr, static_cast<int64_t>(ni));
                      const float* x = a.mlp_x.data();
                      if (b.gated) {
                        block_linear_backward(b, BlockLinear::Gate, x, dg.data(), T, b.gate, dx, false, g.gate, g.gate_bias);
                        block_linear_backward(b, BlockLinear::Up, x, du.data(), T, b.up, dx, true, g.up, g.up_bias);
                      } else {
                        block_linear_backward(b, BlockLinear::Up, x, dg.data(), T, b.up, dx, false, g.up, g.up_bias);
                      }
                    });
}

}  // namespace

void block_backward(const BlockSpec& b, const BlockActs& acts, float* dh, int64_t batch, int64_t seq,
                    const BlockGrads& g) {
  check_block(b);
  if (b.has_mlp()) mlp_backward(b, acts, dh, batch * seq, g);
  if (b.has_attention()) attention_backward(b, acts, dh, batch, seq, g);
}

}  // namespace shears
