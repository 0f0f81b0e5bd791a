#include "cpu/hc_block.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "cpu/bwd_model.h"  // kAborted
#include "cpu/fwd_block.h"
#include "cpu/transpose.h"
#include "cpu/vd_adam.h"
#include "cpu/vd_random.h"
#include "cpu/vd_train.h"  // vd_gather

namespace shears {

namespace {

MatrixView* matrix_slot(BlockSpec& b, int m) {
  MatrixView* ms[kBlockLinears] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
  return ms[m];
}

float** grad_slot(BlockGrads& g, int m) {
  float** gs[kBlockLinears] = {&g.q, &g.k, &g.v, &g.o, &g.gate, &g.up, &g.down};
  return gs[m];
}

void poll(const int32_t* cancel) {
  if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) fail(kAborted, "learning the mask aborted");
}

// What one gated matrix needs across steps: W in float32, the gate and its derivative, W_eff
// and its gradient (then theta's, in place). 5 floats per weight.
struct GatedMatrix {
  size_t n = 0;
  std::vector<float> w, z, dz, w_eff, grad;
};

// The gated block: its matrices pointed at W_eff, and the buffers.
struct GatedBlock {
  BlockSpec spec;
  std::array<GatedMatrix, kBlockLinears> mats;

  GatedBlock(const BlockSpec& dense, const HcBlockParams& p) : spec(dense) {
    for (int m = 0; m < kBlockLinears; ++m) {
      if (!p[m].theta) continue;
      MatrixView* slot = matrix_slot(spec, m);
      GatedMatrix& g = mats[m];
      g.n = slot->numel();
      g.w.resize(g.n);
      to_f32(slot->data, slot->dtype, 0, g.n, g.w.data());
      for (auto* v : {&g.z, &g.dz, &g.w_eff, &g.grad}) v->assign(g.n, 0.0f);
      *slot = f32_matrix(g.w_eff.data(), slot->rows, slot->cols);
    }
  }
  // W_eff from theta and the uniforms (null: the mean gate).
  void set_gates(const HcBlockParams& p, const std::array<const float*, kBlockLinears>& u, const HcGate& gate) {
    for (int m = 0; m < kBlockLinears; ++m) {
      if (!p[m].theta) continue;
      GatedMatrix& g = mats[m];
      hc_gate(p[m].theta, u[m], g.n, gate, g.z.data(), g.dz.data());
      hc_effective(g.w.data(), g.z.data(), g.n, g.w_eff.data());
    }
  }
};

// Weighted squared error of out against target, [tokens, hidden]; with dh, also its gradient.
// Sums run in token order on the calling thread (the same bits for any thread count).
double weighted_mse(const float* out, const float* target, const float* token_weight, int64_t tokens, int64_t hidden,
                    float* dh) {
  double wsum = 0.0;
  for (int64_t t = 0; t < tokens; ++t) wsum += token_weight ? token_weight[t] : 1.0;
  if (wsum == 0.0) {
    // A minibatch of weight 0 (e.g. sequences without an answer) says nothing: no error, no gradient.
    if (dh) std::fill_n(dh, static_cast<size_t>(tokens * hidden), 0.0f);
    return 0.0;
  }
  const double denom = wsum * static_cast<double>(hidden);
  double sum = 0.0;
  for (int64_t t = 0; t < tokens; ++t) {
    const double wt = token_weight ? token_weight[t] : 1.0;
    const size_t off = static_cast<size_t>(t * hidden);
    double row = 0.0;
    for (int64_t h = 0; h < hidden; ++h) {
      const double d = static_cast<double>(out[off + h]) - target[off + h];
      row += d * d;
      if (dh) dh[off + h] = static_cast<float>(2.0 * wt * d / denom);
    }
    sum += wt * row;
  }
  return sum / denom;
}

// The density penalty and its gradient (added to the gated matrices' theta gradients when
// with_grad); returns {penalty, overall expected density}.
std::pair<double, double> density_penalty(const HcBlockParams& p, const GatedBlock& b, const HcObjective& o,
                                          const std::array<float*, kBlockLinears>& d_theta) {
  std::array<double, kBlockLinears> open{};
  double all = 0.0, count = 0.0;
  for (int m = 0; m < kBlockLinears; ++m) {
    if (!p[m].theta) continue;
    open[m] = hc_open_sum(p[m].theta, b.mats[m].n, o.gate, 0.0, nullptr);
    all += open[m];
    count += static_cast<double>(b.mats[m].n);
  }
  double penalty = 0.0;
  if (o.per_matrix) {
    for (int m = 0; m < kBlockLinears; ++m) {
      if (!p[m].theta) continue;
      const double n = static_cast<double>(b.mats[m].n), gap = open[m] / n - o.targets[m];
      penalty += o.lambda * gap * gap;
      if (d_theta[m]) hc_open_sum(p[m].theta, b.mats[m].n, o.gate, 2.0 * o.lambda * gap / n, d_theta[m]);
    }
  } else {
    const double gap = all / count - o.target_density;
    penalty = o.lambda * gap * gap;
    for (int m = 0; m < kBlockLinears; ++m)
      if (p[m].theta && d_theta[m]) hc_open_sum(p[m].theta, b.mats[m].n, o.gate, 2.0 * o.lambda * gap / count, d_theta[m]);
  }
  return {penalty, all / count};
}

// One forward and backward of the gated block (its gates already set): the loss, and theta's
// gradients into d_theta (null entries: not wanted).
HcLoss gated_loss(GatedBlock& b, const HcBlockParams& p, const float* x, const float* target, const float* token_weight,
                  int64_t batch, int64_t seq, const HcObjective& o, float* out,
                  const std::array<float*, kBlockLinears>& d_theta) {
  const int64_t tokens = batch * seq, hidden = b.spec.hidden;
  std::vector<float> h(x, x + tokens * hidden), dh(h.size());
  BlockActs acts;
  run_block_saved(b.spec, h.data(), batch, seq, acts);
  if (out) std::memcpy(out, h.data(), h.size() * sizeof(float));
  HcLoss r;
  r.mse = weighted_mse(h.data(), target, token_weight, tokens, hidden, dh.data());
  BlockGrads g;
  bool wanted = false;
  for (int m = 0; m < kBlockLinears; ++m)
    if (p[m].theta && d_theta[m]) {
      *grad_slot(g, m) = b.mats[m].grad.data();
      wanted = true;
    }
  if (wanted && std::isfinite(r.mse)) {
    block_backward(b.spec, acts, dh.data(), batch, seq, g);
    for (int m = 0; m < kBlockLinears; ++m)
      if (p[m].theta && d_theta[m]) {
        const GatedMatrix& gm = b.mats[m];
        hc_chain(gm.grad.data(), gm.w.data(), gm.dz.data(), gm.n, d_theta[m]);
      }
  }
  std::tie(r.penalty, r.density) = density_penalty(p, b, o, d_theta);
  return r;
}

std::array<float*, kBlockLinears> wanted_grads(const HcBlockParams& p) {
  std::array<float*, kBlockLinears> d{};
  for (int m = 0; m < kBlockLinears; ++m) d[m] = p[m].theta ? p[m].d_theta : nullptr;
  return d;
}

// The mean gate's weighted reconstruction error over every sequence, in chunks.
double mean_gate_mse(GatedBlock& b, const HcBlockParams& p, const float* x, const float* target, const float* token_weight,
                     int64_t sequences, int64_t seq, int64_t chunk, const HcGate& gate, const int32_t* cancel) {
  b.set_gates(p, {}, gate);
  const int64_t hidden = b.spec.hidden;
  const size_t per_seq = static_cast<size_t>(seq * hidden);
  std::vector<float> h;
  double sum = 0.0, wsum = 0.0;
  for (int64_t s = 0; s < sequences; s += chunk) {
    poll(cancel);
    const int64_t n = std::min(chunk, sequences - s);
    h.assign(x + s * per_seq, x + (s + n) * per_seq);
    run_block(b.spec, h.data(), n, seq, BlockCaptures());
    const float* tw = token_weight ? token_weight + s * seq : nullptr;
    double w = 0.0;
    for (int64_t t = 0; t < n * seq; ++t) w += tw ? tw[t] : 1.0;
    if (w > 0.0) sum += w * weighted_mse(h.data(), target + s * per_seq, tw, n * seq, hidden, nullptr);
    wsum += w;
  }
  return sum / wsum;
}

// Every weight finite and >= 0, and some token weighs more than 0 (checked once, up front).
void check_token_weights(const float* w, int64_t tokens) {
  if (!w) return;
  double sum = 0.0;
  for (int64_t t = 0; t < tokens; ++t) {
    if (!(w[t] >= 0.0f && std::isfinite(w[t]))) fail(kRangeError, "token weight " + std::to_string(t) + " is not a finite number >= 0");
    sum += w[t];
  }
  if (!(sum > 0.0)) fail(kRangeError, "the token weights sum to 0: no token to learn from");
}

}  // namespace

void check_objective(const BlockSpec& dense, const HcBlockParams& p, const HcObjective& o) {
  check_gate(o.gate);
  if (!(o.lambda >= 0.0 && std::isfinite(o.lambda))) fail(kRangeError, "lambda must be a finite number >= 0");
  const auto check_target = [](double t) {
    if (!(t >= 0.0 && t <= 1.0)) fail(kRangeError, "a target density must be in [0, 1]");
  };
  check_target(o.target_density);
  int count = 0;
  BlockSpec b = dense;
  for (int m = 0; m < kBlockLinears; ++m) {
    if (!p[m].theta) continue;
    if (!matrix_slot(b, m)->data) fail(kShapeError, "learned mask: a gated matrix the block does not have");
    if (o.per_matrix) check_target(o.targets[m]);
    ++count;
  }
  if (count == 0) fail(kShapeError, "learned mask: no matrix of the block is gated");
}

HcLoss hc_block_loss(const BlockSpec& dense, const HcBlockParams& p, const float* x, const float* target,
                     const float* token_weight, int64_t batch, int64_t seq, const HcObjective& o, float* out) {
  check_block(dense);
  check_objective(dense, p, o);
  check_token_weights(token_weight, batch * seq);
  GatedBlock b(dense, p);
  std::array<const float*, kBlockLinears> u{};
  for (int m = 0; m < kBlockLinears; ++m) u[m] = p[m].u;
  b.set_gates(p, u, o.gate);
  return gated_loss(b, p, x, target, token_weight, batch, seq, o, out, wanted_grads(p));
}

HcTrainResult hc_train_block(const BlockSpec& dense, const HcBlockParams& p, const float* x, const float* target,
                             const float* token_weight, int64_t sequences, int64_t seq, const HcTrainSettings& s,
                             const int32_t* cancel) {
  check_block(dense);
  check_objective(dense, p, s.objective);
  if (s.steps < 1) fail(kRangeError, "steps must be >= 1");
  if (!(s.lr > 0.0 && std::isfinite(s.lr))) fail(kRangeError, "lr must be a finite number > 0");
  check_token_weights(token_weight, sequences * seq);
  GatedBlock b(dense, p);
  // Besides GatedBlock's 5: theta's gradient lives in GatedMatrix::grad; Adam's 2 moments.
  std::array<std::vector<float>, kBlockLinears> adam_m, adam_v;
  std::array<const float*, kBlockLinears> u{};
  std::array<float*, kBlockLinears> d_theta{};
  for (int m = 0; m < kBlockLinears; ++m) {
    if (!p[m].theta) continue;
    adam_m[m].assign(b.mats[m].n, 0.0f);
    adam_v[m].assign(b.mats[m].n, 0.0f);
    // The uniforms are drawn into z (hc_gate reads u[i] before writing z[i]); the gradient of
    // W_eff becomes theta's in place.
    u[m] = b.mats[m].z.data();
    d_theta[m] = b.mats[m].grad.data();
  }
  const int64_t batch = std::max<int64_t>(1, std::min(s.batch_sequences, sequences));
  const size_t per_seq = static_cast<size_t>(seq * dense.hidden);
  std::vector<float> xb(static_cast<size_t>(batch) * per_seq), yb(xb.size()), wb(token_weight ? batch * seq : 0);
  std::vector<int64_t> picked(static_cast<size_t>(batch));
  VdRng rng{s.seed};
  VdOrder order(sequences);
  order.shuffle(rng);
  VdAdamSettings adam;
  adam.lr = s.lr;
  HcTrainResult r;
  for (int64_t step = 1; step <= s.steps; ++step) {
    poll(cancel);
    order.take(rng, batch, picked);
    vd_gather(x, static_cast<int64_t>(per_seq), picked, xb.data());
    vd_gather(target, static_cast<int64_t>(per_seq), picked, yb.data());
    if (token_weight) vd_gather(token_weight, seq, picked, wb.data());
    for (int m = 0; m < kBlockLinears; ++m)
      if (p[m].theta) hc_uniforms(rng, b.mats[m].z.data(), b.mats[m].n);
    b.set_gates(p, u, s.objective.gate);
    const HcLoss loss = gated_loss(b, p, xb.data(), yb.data(), token_weight ? wb.data() : nullptr, batch, seq, s.objective,
                                   nullptr, d_theta);
    if (!std::isfinite(loss.total()))
      fail(kNonFinite, "learned mask: the block's loss is not finite at step " + std::to_string(step));
    if (step == 1) r.first = loss;
    r.last = loss;
    for (int m = 0; m < kBlockLinears; ++m)
      if (p[m].theta) vd_adam_step(p[m].theta, d_theta[m], adam_m[m].data(), adam_v[m].data(), b.mats[m].n, step, adam);
  }
  r.mse_mean = mean_gate_mse(b, p, x, target, token_weight, sequences, seq, batch, s.objective.gate, cancel);
  return r;
}

}  // namespace shears
