#include "cpu/ewc_penalty.h"


#include "core/thread_pool.h"
#include "cpu/bitmask.h"

namespace shears {

double ewc_penalty_sum(const float* w, const float* fisher, const void* anchor, DType anchor_dtype, size_t n, const uint8_t* keep) {
  return parallel_sum<double>(n, size_t{1} << 14, [&](size_t b, size_t e) {
    double s = 0.0;
    for (size_t i = b; i < e; ++i) {
      if (keep && !get_bit(keep, i)) continue;
      const double d = static_cast<double>(w[i]) - static_cast<double>(load_f32(anchor, anchor_dtype, i));
      s += static_cast<double>(fisher[i]) * d * d;
    }
    return s;
  });
}

}  // namespace shears
