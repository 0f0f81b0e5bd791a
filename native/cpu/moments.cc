#include "cpu/moments.h"

#include "core/thread_pool.h"

namespace shears {

void accumulate_moments(const float* g, size_t n, float* sum, float* sum_sq) {
  // Memory-bound: large chunks, one pass per accumulator (each loop vectorizes).
  parallel_for(n, 1 << 16, [&](size_t, size_t b, size_t e) {
    if (sum)
      for (size_t i = b; i < e; ++i) sum[i] += g[i];
    if (sum_sq)
      for (size_t i = b; i < e; ++i) sum_sq[i] += g[i] * g[i];
  });
}

}  // namespace shears
