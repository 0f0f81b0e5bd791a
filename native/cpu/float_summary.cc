#include "cpu/float_summary.h"

#include <cmath>
#include <vector>

#include "core/thread_pool.h"

namespace shears {

FloatSummary float_summary(const float* x, size_t n) {
  const size_t grain = 1 << 14;
  std::vector<FloatSummary> part(chunk_count(n, grain));
  parallel_for(n, grain, [&](size_t chunk, size_t b, size_t e) {
    FloatSummary s;
    for (size_t i = b; i < e; ++i) {
      const float v = x[i];
      if (!std::isfinite(v)) {
        ++s.nonfinite;
        continue;
      }
      s.sum += v;
      if (s.finite == 0 || v > s.max) s.max = v;
      ++s.finite;
    }
    part[chunk] = s;
  });
  FloatSummary total;
  for (const FloatSummary& s : part) {
    total.sum += s.sum;
    total.nonfinite += s.nonfinite;
    if (s.finite > 0 && (total.finite == 0 || s.max > total.max)) total.max = s.max;
    total.finite += s.finite;
  }
  return total;
}

}  // namespace shears
