#include "cpu/zero_mask.h"

#include <cstring>

#include "core/thread_pool.h"

namespace shears {

static inline bool is_zero(const void* data, DType dtype, size_t i) {
  if (dtype == DType::F32) {
    uint32_t u;
    std::memcpy(&u, static_cast<const uint8_t*>(data) + 4 * i, 4);
    return (u & 0x7fffffffu) == 0;
  }
  uint16_t h;
  std::memcpy(&h, static_cast<const uint8_t*>(data) + 2 * i, 2);
  return (h & 0x7fffu) == 0;
}

size_t zero_mask(const void* data, DType dtype, size_t n, uint8_t* bits) {
  const size_t bytes = (n + 7) / 8;
  // Chunks of whole bytes, so that each byte of `bits` is written by one thread; the
  // per-chunk counts are summed in chunk order.
  return parallel_sum<size_t>(bytes, size_t{1} << 14, [&](size_t b, size_t e) {
    size_t zeros = 0;
    for (size_t byte = b; byte < e; ++byte) {
      uint8_t v = 0;
      for (size_t k = 0; k < 8; ++k) {
        size_t i = byte * 8 + k;
        if (i < n && is_zero(data, dtype, i)) {
          v |= static_cast<uint8_t>(1u << k);
          ++zeros;
        }
      }
      bits[byte] = v;
    }
    return zeros;
  });
}

}  // namespace shears
