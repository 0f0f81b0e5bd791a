// The training settings both variational dropout trainings take from JavaScript (layer by
// layer: vd_bindings.cc vdTrainLayer; block by block: vd_block_bindings.cc vdTrainBlock).
#pragma once
#include <napi.h>

#include <cmath>
#include <string>

#include "bindings/js_args.h"
#include "core/error.h"
#include "cpu/vd_adam.h"

namespace shears {

// o[key] (default fallback when absent), which must be finite and in [lo, hi].
inline double vd_setting(const Napi::Object& o, const char* key, double fallback, double lo, double hi) {
  const double v = get_double(o, key, fallback);
  if (!std::isfinite(v) || v < lo || v > hi)
    fail(kRangeError, std::string(key) + " must be a finite number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

// steps, lrTheta, lrLogSigma2, beta, klTokens (default: kl_tokens), warmup, logSigma2Init, seed.
inline VdSchedule vd_schedule_arg(const Napi::Object& o, double kl_tokens) {
  VdSchedule s;
  s.steps = get_int(o, "steps", 0, 1000000);
  s.lr_theta = vd_setting(o, "lrTheta", s.lr_theta, 0.0, 1e6);
  s.lr_log_sigma2 = vd_setting(o, "lrLogSigma2", s.lr_log_sigma2, 0.0, 1e6);
  s.beta = vd_setting(o, "beta", s.beta, 0.0, 1e12);
  s.kl_tokens = vd_setting(o, "klTokens", kl_tokens, 1e-300, 1e18);
  s.warmup = vd_setting(o, "warmup", 0.0, 0.0, 1.0);
  s.log_sigma2_init = vd_setting(o, "logSigma2Init", s.log_sigma2_init, -1e6, 1e6);
  s.seed = static_cast<uint64_t>(get_int(o, "seed", 0, int64_t{1} << 53));
  return s;
}

}  // namespace shears
