// Learning one variational linear layer's (theta, log sigma^2) by reconstruction: the layer
// is fed its calibration inputs x and must reproduce the dense layer's outputs x W^T; the
// loss is the mean squared error of the sampled outputs plus beta * KL / tokens, minimized
// by Adam on minibatches of rows (docs/variational-dropout.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/vd_adam.h"

namespace shears {

struct VdTrainSettings : VdSchedule {
  // Rows per step (>= the rows held: every row, every step).
  int64_t batch_rows = 256;
};

struct VdTrainResult {
  // Mean squared error of the sampled outputs on the first and the last step's rows.
  double mse_first = 0.0, mse_last = 0.0;
  // Mean squared error of the mean network (y = x theta^T) on every row, after training.
  double mse_mean = 0.0;
  // Sum of the KL terms after training.
  double kl = 0.0;
};

// x [n, in] float32, w [out, in] float32 (the dense weights). Writes theta, log_sigma2 and
// log_alpha [out, in] (theta starts at w, log sigma^2 at log_sigma2_init). Deterministic for
// a seed and any thread count. Throws shears::Error (E_NONFINITE) if the loss stops being finite.
VdTrainResult vd_train_layer(const float* x, int64_t n, int64_t in, const float* w, int64_t out, const VdTrainSettings& s,
                             float* theta, float* log_sigma2, float* log_alpha);

// The pruning score of each weight: -(log sigma^2 - log(theta^2 + 1e-8)), the unclipped
// log alpha negated (lower: pruned first). Unclipped so that weights past the KL's clip
// still rank among themselves instead of tying.
void vd_keep_score(const float* theta, const float* log_sigma2, size_t size, float* score);

// dst row k = src row rows[k], rows `width` floats wide.
void vd_gather(const float* src, int64_t width, const std::vector<int64_t>& rows, float* dst);

// Sum of (a - b)^2 in fixed chunks (the same value for any thread count); with `grad`,
// also grad = scale * (a - b).
double vd_squared_error(const float* a, const float* b, size_t size, float* grad, float scale);

// counts[b] += the values in [lo + b * width, lo + (b + 1) * width), width = (hi - lo) / bins;
// values outside [lo, hi] count in the first or last bin; values that are not finite are not counted.
void vd_histogram(const float* values, size_t size, double lo, double hi, int64_t bins, double* counts);

}  // namespace shears
