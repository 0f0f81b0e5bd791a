#include "core/dtype.h"

namespace shears {

void to_f32(const void* src, DType t, size_t offset, size_t n, float* dst) {
  switch (t) {
    case DType::F32: {
      const float* s = static_cast<const float*>(src) + offset;
      std::memcpy(dst, s, n * 4);
      break;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src) + offset;
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
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
