// Variational linear layer of sparse variational dropout (Molchanov, Ashukha & Vetrov,
// ICML 2017), forward paired with its backward (as llm.c pairs them), and the paper's
// approximation of the KL term with its gradient. docs/variational-dropout.md.
//
// Each weight w[o][i] has a mean theta[o][i] and a log variance log_sigma2[o][i]. With the
// local reparameterization trick the pre-activations are sampled instead of the weights:
//   mu  = x theta^T,  var = x^2 (sigma^2)^T,  std = sqrt(var + kVdVarFloor),  y = mu + std * eps
// with eps ~ N(0, 1) given by the caller ([n, out]; null: the mean network, y = mu).
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// Added under the square root, as the paper's code does (1e-8): keeps the gradient of std finite.
inline constexpr float kVdVarFloor = 1e-8f;
// log alpha = log sigma^2 - log(theta^2 + kVdThetaFloor), clipped to [-kVdLogAlphaClip, kVdLogAlphaClip].
inline constexpr float kVdThetaFloor = 1e-8f;
inline constexpr float kVdLogAlphaClip = 8.0f;

// x [n, in], theta / log_sigma2 [out, in], eps [n, out] or null; writes y [n, out] and, when
// eps is given, std [n, out] (what the backward needs). Multithreaded, same bits for any thread count.
void vd_linear_forward(const float* x, int64_t n, int64_t in, int64_t out, const float* theta, const float* log_sigma2,
                       const float* eps, float* y, float* std_out);

// Backward of vd_linear_forward given dy = dLoss/dy [n, out] and the forward's eps and std:
//   dx [n, in] (null: not wanted; overwritten), dtheta and dlog_sigma2 [out, in] (null: not
//   wanted; accumulated: +=). eps null: only the mean path (dlog_sigma2 gets nothing).
void vd_linear_backward(const float* x, int64_t n, int64_t in, int64_t out, const float* theta, const float* log_sigma2,
                        const float* eps, const float* std, const float* dy, float* dx, float* dtheta, float* dlog_sigma2);

// The variance path alone, y += std * eps with std = sqrt(x^2 (sigma^2)^T + kVdVarFloor)
// written to std_out [n, out]: vd_linear_forward is an ordinary linear layer with W = theta
// followed by this (the variational block adds it after its dense linear, cpu/vd_block.h).
void vd_noise_forward(const float* x, int64_t n, int64_t in, int64_t out, const float* log_sigma2, const float* eps,
                      float* y, float* std_out);

// Backward of vd_noise_forward: adds the variance path's share to dx [n, in] and to
// dlog_sigma2 [out, in] (each null: not wanted).
void vd_noise_backward(const float* x, int64_t n, int64_t in, int64_t out, const float* log_sigma2, const float* eps,
                       const float* std, const float* dy, float* dx, float* dlog_sigma2);

// The per-weight log alpha (clipped) of the layer, into log_alpha [size].
void vd_log_alpha(const float* theta, const float* log_sigma2, size_t size, float* log_alpha);

// KL(q || p) summed over the weights with the paper's approximation
//   -KL = k1 sigmoid(k2 + k3 log alpha) - 0.5 log1p(exp(-log alpha)) - k1,
// k1 = 0.63576, k2 = 1.87320, k3 = 1.48695; returns sum KL. Adds scale * dKL/dtheta and
// scale * dKL/dlog_sigma2 to dtheta / dlog_sigma2 when they are not null (zero where the
// clip is active, as the clipped value's gradient). Summed per fixed chunk in chunk order:
// the same value for any thread count.
double vd_kl(const float* theta, const float* log_sigma2, size_t size, double scale, float* dtheta, float* dlog_sigma2);

// The per-weight -KL of one log alpha (the formula above), for tests and reports.
double vd_neg_kl(double log_alpha);

}  // namespace shears
