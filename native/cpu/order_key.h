// Maps float32 scores to uint32 keys whose unsigned order is the numeric order
// (-0 and +0 map to the same key). Selections compare keys: exact, branch-free,
// and the form radix/histogram selection needs.
#pragma once
#include <cstdint>
#include <cstring>

namespace shears {

inline uint32_t order_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u & 0x7fffffffu) ? u : 0u;  // -0 == +0 (a select, so loops over keys vectorize)
  uint32_t mask = static_cast<uint32_t>(-static_cast<int32_t>(u >> 31)) | 0x80000000u;
  return u ^ mask;  // negative: flip all bits; positive: flip the sign bit
}

inline bool is_nan_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return (u & 0x7fffffffu) > 0x7f800000u;
}

}  // namespace shears
