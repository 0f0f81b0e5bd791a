// Adam (Kingma & Ba 2015) for the two parameter tensors of sparse variational dropout
// (theta and log sigma^2, docs/variational-dropout.md): one step, elementwise, in place.
#pragma once
#include <cstddef>
#include <algorithm>
#include <cstdint>

namespace shears {

struct VdAdamSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// What the layer-wise (cpu/vd_train.h) and block-wise (cpu/vd_block.h) trainings share:
// the number of Adam steps, the two learning rates and the loss's KL weight schedule.
struct VdSchedule {
  int64_t steps = 100;
  double lr_theta = 1e-4;
  double lr_log_sigma2 = 0.05;
  double beta = 1.0;
  // The N of KL / N (the paper's dataset size): the calibration tokens the data stands for.
  double kl_tokens = 1.0;
  // beta grows linearly from 0 over this fraction of the steps (0: no annealing).
  double warmup = 0.0;
  double log_sigma2_init = -10.0;
  uint64_t seed = 0;

  VdAdamSettings adam(double lr) const {
    VdAdamSettings a;
    a.lr = lr;
    return a;
  }
  // The weight of sum KL at step `step` (1-based): beta / kl_tokens, ramped over the warmup.
  double kl_scale(int64_t step) const {
    const double warm_steps = warmup * static_cast<double>(steps);
    const double b = warm_steps > 0.0 ? beta * std::min(1.0, static_cast<double>(step) / warm_steps) : beta;
    return b / kl_tokens;
  }
};

// Step `step` (1-based, for the bias corrections): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). Each element is touched by one thread.
void vd_adam_step(float* param, const float* grad, float* m, float* v, size_t size, int64_t step, const VdAdamSettings& s);

}  // namespace shears
