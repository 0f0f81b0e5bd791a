#include "cpu/dequant_q8_0.h"

#include <cstring>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace shears {

void dequant_q8_0(const uint8_t* src, size_t n_blocks, float* out) {
  parallel_for(n_blocks, 4096, [&](size_t, size_t b, size_t e) {
    for (size_t blk = b; blk < e; ++blk) {
      const uint8_t* p = src + blk * kQ8_0BlockBytes;
      uint16_t dh;
      std::memcpy(&dh, p, 2);  // the block start is only byte-aligned
      const float d = f16_to_f32(dh);
      const int8_t* q = reinterpret_cast<const int8_t*>(p + 2);
      float* o = out + blk * kQ8_0BlockWeights;
      for (size_t i = 0; i < kQ8_0BlockWeights; ++i) o[i] = d * static_cast<float>(q[i]);
    }
  });
}

}  // namespace shears
