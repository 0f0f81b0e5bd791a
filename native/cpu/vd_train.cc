#include "cpu/vd_train.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/transpose.h"
#include "cpu/vd_adam.h"
#include "cpu/vd_linear.h"
#include "cpu/vd_random.h"

namespace shears {

void vd_gather(const float* src, int64_t width, const std::vector<int64_t>& rows, float* dst) {
  for (size_t k = 0; k < rows.size(); ++k)
    std::memcpy(dst + k * static_cast<size_t>(width), src + static_cast<size_t>(rows[k] * width), sizeof(float) * static_cast<size_t>(width));
}

double vd_squared_error(const float* a, const float* b, size_t size, float* grad, float scale) {
  return parallel_sum<double>(size, size_t{1} << 14, [&](size_t lo, size_t hi) {
    double s = 0.0;
    for (size_t i = lo; i < hi; ++i) {
      const float d = a[i] - b[i];
      s += static_cast<double>(d) * d;
      if (grad) grad[i] = scale * d;
    }
    return s;
  });
}

VdTrainResult vd_train_layer(const float* x, int64_t n, int64_t in, const float* w, int64_t out, const VdTrainSettings& s,
                             float* theta, float* log_sigma2, float* log_alpha) {
  VdTrainResult r;
  const size_t nw = static_cast<size_t>(out * in);
  std::memcpy(theta, w, sizeof(float) * nw);
  std::fill(log_sigma2, log_sigma2 + nw, static_cast<float>(s.log_sigma2_init));
  // The targets: the dense layer's outputs on every row, computed once.
  std::vector<float> target(static_cast<size_t>(n * out));
  matmul(x, n, f32_matrix(w, out, in), nullptr, target.data());
  const int64_t b = std::max<int64_t>(1, std::min(s.batch_rows, n));
  const size_t nb = static_cast<size_t>(b * out);
  std::vector<float> xb(static_cast<size_t>(b * in)), yb(nb), y(nb), sd(nb), eps(nb), dy(nb);
  std::vector<float> g_theta(nw), g_ls(nw), m_theta(nw, 0.0f), v_theta(nw, 0.0f), m_ls(nw, 0.0f), v_ls(nw, 0.0f);
  std::vector<int64_t> rows(static_cast<size_t>(b));
  VdRng rng{s.seed};
  VdOrder order(n);
  order.shuffle(rng);
  const VdAdamSettings adam_theta = s.adam(s.lr_theta), adam_ls = s.adam(s.lr_log_sigma2);
  for (int64_t step = 1; step <= s.steps; ++step) {
    order.take(rng, b, rows);
    vd_gather(x, in, rows, xb.data());
    vd_gather(target.data(), out, rows, yb.data());
    vd_normals(rng, eps.data(), nb);
    vd_linear_forward(xb.data(), b, in, out, theta, log_sigma2, eps.data(), y.data(), sd.data());
    // Loss = mean (y - target)^2 over the batch's outputs + beta_t * KL / tokens.
    const double mse = vd_squared_error(y.data(), yb.data(), nb, dy.data(), 2.0f / static_cast<float>(nb)) / static_cast<double>(nb);
    if (!std::isfinite(mse)) fail(kNonFinite, "variational dropout: the reconstruction loss is not finite at step " + std::to_string(step));
    if (step == 1) r.mse_first = mse;
    r.mse_last = mse;
    std::fill(g_theta.begin(), g_theta.end(), 0.0f);
    std::fill(g_ls.begin(), g_ls.end(), 0.0f);
    vd_linear_backward(xb.data(), b, in, out, theta, log_sigma2, eps.data(), sd.data(), dy.data(), nullptr, g_theta.data(), g_ls.data());
    vd_kl(theta, log_sigma2, nw, s.kl_scale(step), g_theta.data(), g_ls.data());
    vd_adam_step(theta, g_theta.data(), m_theta.data(), v_theta.data(), nw, step, adam_theta);
    vd_adam_step(log_sigma2, g_ls.data(), m_ls.data(), v_ls.data(), nw, step, adam_ls);
  }
  vd_log_alpha(theta, log_sigma2, nw, log_alpha);
  r.kl = vd_kl(theta, log_sigma2, nw, 0.0, nullptr, nullptr);
  std::vector<float> mean(static_cast<size_t>(n * out));
  matmul(x, n, f32_matrix(theta, out, in), nullptr, mean.data());
  r.mse_mean = vd_squared_error(mean.data(), target.data(), mean.size(), nullptr, 0.0f) / static_cast<double>(mean.size());
  return r;
}

void vd_keep_score(const float* theta, const float* log_sigma2, size_t size, float* score) {
  parallel_for(size, 1 << 14, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const double t = theta[i];
      score[i] = static_cast<float>(std::log(t * t + kVdThetaFloor) - static_cast<double>(log_sigma2[i]));
    }
  });
}

void vd_histogram(const float* values, size_t size, double lo, double hi, int64_t bins, double* counts) {
  const double width = (hi - lo) / static_cast<double>(bins);
  for (size_t i = 0; i < size; ++i) {
    if (!std::isfinite(values[i])) continue;  // log alpha is clipped: never here in practice
    const int64_t k = static_cast<int64_t>(std::floor((values[i] - lo) / width));
    counts[std::min(bins - 1, std::max<int64_t>(0, k))] += 1.0;
  }
}

}  // namespace shears
