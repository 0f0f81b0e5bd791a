#include "cpu/cast_keeping_zeros.h"

#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "cpu/bitmask.h"

namespace shears {

namespace {

// The sign bit of element i as stored (so -0 counts as negative).
inline bool negative(const void* src, DType t, size_t i) {
  if (t == DType::F32) return std::signbit(static_cast<const float*>(src)[i]);
  return (static_cast<const uint16_t*>(src)[i] & 0x8000u) != 0;
}

}  // namespace

void cast_keeping_zeros(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t n, const uint8_t* keep) {
  parallel_for(n, 1 << 14, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float v = load_f32(src, src_dtype, i);
      const bool hold = keep != nullptr && get_bit(keep, i);
      if (dst_dtype == DType::F32) {
        float out = v;
        if (hold && out == 0.0f) out = negative(src, src_dtype, i) ? -1.4e-45f : 1.4e-45f;
        static_cast<float*>(dst)[i] = out;
      } else {
        uint16_t h = dst_dtype == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        if (hold && (h & 0x7fffu) == 0) h = negative(src, src_dtype, i) ? 0x8001u : 0x0001u;
        static_cast<uint16_t*>(dst)[i] = h;
      }
    }
  });
}

}  // namespace shears
