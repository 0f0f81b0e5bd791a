#include "cpu/vd_linear.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/transpose.h"

namespace shears {

namespace {

constexpr double kK1 = 0.63576, kK2 = 1.87320, kK3 = 1.48695;
// Elementwise work: chunks large enough to amortize the pool, fixed so reductions are stable.
constexpr size_t kGrain = 1 << 14;

// dst[i] = src[i]^2 (x^2 of the variance path).
void squares(const float* src, size_t size, float* dst) {
  parallel_for(size, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) dst[i] = src[i] * src[i];
  });
}

// dst[i] = exp(log_sigma2[i]) (sigma^2).
void variances(const float* log_sigma2, size_t size, float* dst) {
  parallel_for(size, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) dst[i] = std::exp(log_sigma2[i]);
  });
}

double log_alpha_of(float theta, float log_sigma2, bool* clipped) {
  const double la = static_cast<double>(log_sigma2) - std::log(static_cast<double>(theta) * theta + kVdThetaFloor);
  *clipped = la < -kVdLogAlphaClip || la > kVdLogAlphaClip;
  return std::min<double>(kVdLogAlphaClip, std::max<double>(-kVdLogAlphaClip, la));
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

double vd_neg_kl(double la) { return kK1 * sigmoid(kK2 + kK3 * la) - 0.5 * std::log1p(std::exp(-la)) - kK1; }

void vd_noise_forward(const float* x, int64_t n, int64_t in, int64_t out, const float* log_sigma2, const float* eps,
                      float* y, float* std_out) {
  if (n <= 0) return;
  std::vector<float> x2(static_cast<size_t>(n * in)), s2(static_cast<size_t>(out * in));
  squares(x, x2.size(), x2.data());
  variances(log_sigma2, s2.size(), s2.data());
  matmul(x2.data(), n, f32_matrix(s2.data(), out, in), nullptr, std_out);
  parallel_for(static_cast<size_t>(n * out), kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      std_out[i] = std::sqrt(std_out[i] + kVdVarFloor);
      y[i] += std_out[i] * eps[i];
    }
  });
}

void vd_linear_forward(const float* x, int64_t n, int64_t in, int64_t out, const float* theta, const float* log_sigma2,
                       const float* eps, float* y, float* std_out) {
  if (n <= 0) return;
  matmul(x, n, f32_matrix(theta, out, in), nullptr, y);
  if (eps) vd_noise_forward(x, n, in, out, log_sigma2, eps, y, std_out);
}

void vd_noise_backward(const float* x, int64_t n, int64_t in, int64_t out, const float* log_sigma2, const float* eps,
                       const float* std, const float* dy, float* dx, float* dlog_sigma2) {
  if (n <= 0 || (!dx && !dlog_sigma2)) return;
  // y += sqrt(var) eps, var = x^2 s2^T, so dvar = dy eps / (2 std).
  const size_t ny = static_cast<size_t>(n * out), nx = static_cast<size_t>(n * in), nw = static_cast<size_t>(out * in);
  std::vector<float> dvar(ny), x2(nx), s2(nw);
  parallel_for(ny, kGrain, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) dvar[i] = dy[i] * eps[i] / (2.0f * std[i]);
  });
  squares(x, nx, x2.data());
  variances(log_sigma2, nw, s2.data());
  std::vector<float> ds2(dlog_sigma2 ? nw : 0), dx2(dx ? nx : 0);
  // ds2 = dvar^T x^2 and dx2 = dvar s2 (d var / d x^2), by the linear layer's backward.
  linear_backward(x2.data(), dvar.data(), n, f32_matrix(s2.data(), out, in), dx ? dx2.data() : nullptr, false,
                  dlog_sigma2 ? ds2.data() : nullptr, nullptr);
  if (dlog_sigma2)
    parallel_for(nw, kGrain, [&](size_t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) dlog_sigma2[i] += ds2[i] * s2[i];  // d s2 / d log s2 = s2
    });
  if (dx)
    parallel_for(nx, kGrain, [&](size_t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) dx[i] += 2.0f * x[i] * dx2[i];  // d x^2 / d x = 2x
    });
}

void vd_linear_backward(const float* x, int64_t n, int64_t in, int64_t out, const float* theta, const float* log_sigma2,
                        const float* eps, const float* std, const float* dy, float* dx, float* dtheta, float* dlog_sigma2) {
  if (n <= 0) return;
  // Mean path: an ordinary linear layer with W = theta; then the variance path.
  linear_backward(x, dy, n, f32_matrix(theta, out, in), dx, false, dtheta, nullptr);
  if (eps) vd_noise_backward(x, n, in, out, log_sigma2, eps, std, dy, dx, dlog_sigma2);
}

void vd_log_alpha(const float* theta, const float* log_sigma2, size_t size, float* log_alpha) {
  parallel_for(size, kGrain, [&](size_t, size_t b, size_t e) {
    bool clipped;
    for (size_t i = b; i < e; ++i) log_alpha[i] = static_cast<float>(log_alpha_of(theta[i], log_sigma2[i], &clipped));
  });
}

double vd_kl(const float* theta, const float* log_sigma2, size_t size, double scale, float* dtheta, float* dlog_sigma2) {
  return parallel_sum<double>(size, kGrain, [&](size_t b, size_t e) {
    double sum = 0.0;
    for (size_t i = b; i < e; ++i) {
      bool clipped;
      const double la = log_alpha_of(theta[i], log_sigma2[i], &clipped);
      sum -= vd_neg_kl(la);
      if (clipped || (!dtheta && !dlog_sigma2)) continue;
      // dKL/dla = -(k1 k3 s (1 - s) + 0.5 sigmoid(-la)), s = sigmoid(k2 + k3 la).
      const double s = sigmoid(kK2 + kK3 * la);
      const double g = -scale * (kK1 * kK3 * s * (1.0 - s) + 0.5 * sigmoid(-la));
      if (dlog_sigma2) dlog_sigma2[i] += static_cast<float>(g);
      if (dtheta) {
        const double t = theta[i];
        dtheta[i] += static_cast<float>(g * (-2.0 * t / (t * t + kVdThetaFloor)));  // dla/dtheta
      }
    }
    return sum;
  });
}

}  // namespace shears
