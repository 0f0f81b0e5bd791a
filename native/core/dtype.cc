#include "core/dtype.h"

#include "core/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SHEARS_X86 1
#endif

namespace shears {

#ifdef SHEARS_X86
// Hardware conversion (exact for every finite value, subnormals included; NaNs stay NaN).
__attribute__((target("avx,f16c"))) static size_t f16_to_f32_f16c(const uint16_t* s, size_t n, float* d) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  return i;
}
#endif

void to_f32(const void* src, DType t, size_t offset, size_t n, float* dst) {
  switch (t) {
    case DType::F32: {
      const float* s = static_cast<const float*>(src) + offset;
      std::memcpy(dst, s, n * 4);
      break;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src) + offset;
      size_t i = 0;
#ifdef SHEARS_X86
      if (has_f16c()) i = f16_to_f32_f16c(s, n, dst);
#endif
      for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      break;
    }
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src) + offset;
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      break;
    }
  }
}

void from_f32(const float* src, size_t n, void* dst, DType t, size_t offset) {
  switch (t) {
    case DType::F32: std::memcpy(static_cast<float*>(dst) + offset, src, n * 4); break;
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst) + offset;
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      break;
    }
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst) + offset;
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      break;
    }
  }
}

}  // namespace shears
