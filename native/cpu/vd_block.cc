#include "cpu/vd_block.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "cpu/bwd_model.h"  // kAborted
#include "cpu/fwd_block.h"
#include "cpu/transpose.h"
#include "cpu/vd_adam.h"
#include "cpu/vd_linear.h"
#include "cpu/vd_train.h"

namespace shears {

namespace {

const MatrixView& matrix_of(const BlockSpec& b, int m) {
  const MatrixView* ms[kBlockLinears] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
  return *ms[m];
}

// The MSE's theta gradients are the weight gradients of block_backward.
BlockGrads theta_grads(const VdBlockParams& p) {
  BlockGrads g;
  float** gs[kBlockLinears] = {&g.q, &g.k, &g.v, &g.o, &g.gate, &g.up, &g.down};
  for (int m = 0; m < kBlockLinears; ++m)
    if (p[m].theta) *gs[m] = p[m].d_theta;
  return g;
}

void poll(const int32_t* cancel) {
  if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) fail(kAborted, "variational dropout aborted");
}

}  // namespace

VdBlockSeam::VdBlockSeam(const BlockSpec& dense, const VdBlockParams& p, VdRng* rng) : p_(p), rng_(rng) {
  for (int m = 0; m < kBlockLinears; ++m) {
    out_[m] = matrix_of(dense, m).rows;
    in_[m] = matrix_of(dense, m).cols;
  }
}

void VdBlockSeam::after_forward(BlockLinear which, const float* x, int64_t n, float* y) {
  const int m = static_cast<int>(which);
  if (!p_[m].theta) return;
  std::vector<float>& eps = eps_[m];
  eps.assign(static_cast<size_t>(n * out_[m]), 0.0f);
  if (rng_) vd_normals(*rng_, eps.data(), eps.size());
  std_[m].resize(eps.size());
  vd_noise_forward(x, n, in_[m], out_[m], p_[m].log_sigma2, eps.data(), y, std_[m].data());
}

void VdBlockSeam::after_backward(BlockLinear which, const float* x, int64_t n, const float* dy, float* dx) {
  const int m = static_cast<int>(which);
  if (!p_[m].theta) return;
  vd_noise_backward(x, n, in_[m], out_[m], p_[m].log_sigma2, eps_[m].data(), std_[m].data(), dy, dx,
                    p_[m].d_log_sigma2);
}

BlockSpec vd_block_spec(const BlockSpec& dense, const VdBlockParams& p, LinearSeam* seam) {
  BlockSpec b = dense;
  MatrixView* ms[kBlockLinears] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
  for (int m = 0; m < kBlockLinears; ++m) {
    if (!p[m].theta) continue;
    if (!ms[m]->data) fail(kShapeError, "variational dropout: a variational matrix the block does not have");
    *ms[m] = f32_matrix(p[m].theta, ms[m]->rows, ms[m]->cols);
  }
  b.seam = seam;
  return b;
}

double vd_block_mse(const BlockSpec& dense, const VdBlockParams& p, VdRng* rng, const float* x, const float* target,
                    int64_t batch, int64_t seq, float* out, const std::array<float*, kBlockLinears>& eps_out) {
  VdBlockSeam seam(dense, p, rng);
  const BlockSpec b = vd_block_spec(dense, p, &seam);
  const size_t nh = static_cast<size_t>(batch * seq * dense.hidden);
  std::vector<float> h(x, x + nh), dh(nh);
  BlockActs acts;
  run_block_saved(b, h.data(), batch, seq, acts);
  if (out) std::memcpy(out, h.data(), nh * sizeof(float));
  for (int m = 0; m < kBlockLinears; ++m)
    if (eps_out[m] && p[m].theta) std::copy(seam.eps(BlockLinear(m)).begin(), seam.eps(BlockLinear(m)).end(), eps_out[m]);
  const double mse = vd_squared_error(h.data(), target, nh, dh.data(), 2.0f / static_cast<float>(nh)) / static_cast<double>(nh);
  if (!std::isfinite(mse)) return mse;  // the caller names the failure
  for (int m = 0; m < kBlockLinears; ++m)
    if (p[m].theta && p[m].d_log_sigma2) std::fill_n(p[m].d_log_sigma2, matrix_of(dense, m).numel(), 0.0f);
  block_backward(b, acts, dh.data(), batch, seq, theta_grads(p));
  return mse;
}

namespace {

// The mean network's (theta, no noise) mean squared error over every sequence.
double mean_network_mse(const BlockSpec& dense, const VdBlockParams& p, const float* x, const float* target,
                        int64_t sequences, int64_t seq, int64_t chunk, const int32_t* cancel) {
  const BlockSpec b = vd_block_spec(dense, p, nullptr);
  const size_t per_seq = static_cast<size_t>(seq * dense.hidden);
  std::vector<float> h;
  double sum = 0.0;
  for (int64_t s = 0; s < sequences; s += chunk) {
    poll(cancel);
    const int64_t n = std::min(chunk, sequences - s);
    h.assign(x + s * per_seq, x + (s + n) * per_seq);
    run_block(b, h.data(), n, seq, BlockCaptures());
    sum += vd_squared_error(h.data(), target + s * per_seq, h.size(), nullptr, 0.0f);
  }
  return sum / (static_cast<double>(sequences) * static_cast<double>(per_seq));
}

}  // namespace

VdBlockResult vd_train_block(const BlockSpec& dense, const VdBlockParams& p, const float* x, const float* target,
                             int64_t sequences, int64_t seq, const VdBlockSettings& s, const int32_t* cancel) {
  check_block(dense);
  VdBlockResult r;
  // Training owns the gradients and Adam moments: 6 floats per variational weight besides theta and log sigma^2.
  VdBlockParams q = p;
  std::array<std::vector<float>, kBlockLinears> d_theta, d_ls, m_theta, v_theta, m_ls, v_ls;
  for (int m = 0; m < kBlockLinears; ++m) {
    if (!p[m].theta) continue;
    const MatrixView& w = matrix_of(dense, m);
    const size_t nw = w.numel();
    to_f32(w.data, w.dtype, 0, nw, p[m].theta);
    std::fill_n(p[m].log_sigma2, nw, static_cast<float>(s.log_sigma2_init));
    for (auto* v : {&d_theta[m], &d_ls[m], &m_theta[m], &v_theta[m], &m_ls[m], &v_ls[m]}) v->assign(nw, 0.0f);
    q[m].d_theta = d_theta[m].data();
    q[m].d_log_sigma2 = d_ls[m].data();
  }
  const int64_t b = std::max<int64_t>(1, std::min(s.batch_sequences, sequences));
  const size_t per_seq = static_cast<size_t>(seq * dense.hidden);
  std::vector<float> xb(static_cast<size_t>(b) * per_seq), yb(xb.size());
  std::vector<int64_t> picked(static_cast<size_t>(b));
  VdRng rng{s.seed};
  VdOrder order(sequences);
  order.shuffle(rng);
  const VdAdamSettings adam_theta = s.adam(s.lr_theta), adam_ls = s.adam(s.lr_log_sigma2);
  const std::array<float*, kBlockLinears> no_eps{};
  for (int64_t step = 1; step <= s.steps; ++step) {
    poll(cancel);
    order.take(rng, b, picked);
    vd_gather(x, static_cast<int64_t>(per_seq), picked, xb.data());
    vd_gather(target, static_cast<int64_t>(per_seq), picked, yb.data());
    const double mse = vd_block_mse(dense, q, &rng, xb.data(), yb.data(), b, seq, nullptr, no_eps);
    if (!std::isfinite(mse))
      fail(kNonFinite, "variational dropout: the block's reconstruction loss is not finite at step " + std::to_string(step));
    if (step == 1) r.mse_first = mse;
    r.mse_last = mse;
    for (int m = 0; m < kBlockLinears; ++m) {
      if (!q[m].theta) continue;
      const size_t nw = d_theta[m].size();
      vd_kl(q[m].theta, q[m].log_sigma2, nw, s.kl_scale(step), d_theta[m].data(), d_ls[m].data());
      vd_adam_step(q[m].theta, d_theta[m].data(), m_theta[m].data(), v_theta[m].data(), nw, step, adam_theta);
      vd_adam_step(q[m].log_sigma2, d_ls[m].data(), m_ls[m].data(), v_ls[m].data(), nw, step, adam_ls);
    }
  }
  for (int m = 0; m < kBlockLinears; ++m)
    if (p[m].theta) r.kl[m] = vd_kl(p[m].theta, p[m].log_sigma2, matrix_of(dense, m).numel(), 0.0, nullptr, nullptr);
  r.mse_mean = mean_network_mse(dense, p, x, target, sequences, seq, b, cancel);
  return r;
}

}  // namespace shears
