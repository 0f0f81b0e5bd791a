#include "cpu/apply_mask.h"

#include "cpu/bitmask.h"
#include "cpu/select_simd.h"

namespace shears {

template <typename T>
static size_t apply_typed(T* w, size_t offset, size_t n, const uint8_t* bits) {
  size_t pruned = 0;
  size_t j = 0;
  // Unaligned head, then whole mask bytes (8 weights each), then the tail.
  for (; j < n && ((offset + j) & 7) != 0; ++j) {
    bool keep = get_bit(bits, offset + j);
    if (!keep) w[offset + j] = T(0);
    pruned += !keep;
  }
  for (; j + 8 <= n; j += 8) {
    uint8_t byte = bits[(offset + j) >> 3];
    T* p = w + offset + j;
    if (byte == 0xff) continue;
    for (unsigned t = 0; t < 8; ++t) {
      bool keep = (byte >> t) & 1u;
      p[t] = keep ? p[t] : T(0);
      pruned += !keep;
    }
  }
  for (; j < n; ++j) {
    bool keep = get_bit(bits, offset + j);
    if (!keep) w[offset + j] = T(0);
    pruned += !keep;
  }
  return pruned;
}

size_t apply_mask_range(void* w, DType t, size_t offset, size_t n, const uint8_t* bits) {
  if ((offset & 7) == 0) return apply_mask_aligned(w, t, offset, n, bits);
  if (t == DType::F32) return apply_typed(static_cast<float*>(w), offset, n, bits);
  // f16 and bf16 both have +0 as all-zero bits.
  return apply_typed(static_cast<uint16_t*>(w), offset, n, bits);
}

}  // namespace shears
