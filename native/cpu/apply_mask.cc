#include "cpu/apply_mask.h"

#include <algorithm>

#include "cpu/bitmask.h"
#include "cpu/select_simd.h"

namespace shears {

template <typename T>
static size_t apply_head(T* w, size_t offset, size_t n, const uint8_t* bits) {
  size_t pruned = 0;
  for (size_t j = 0; j < n; ++j) {
    bool keep = get_bit(bits, offset + j);
    if (!keep) w[offset + j] = T(0);
    pruned += !keep;
  }
  return pruned;
}

size_t apply_mask_range(void* w, DType t, size_t offset, size_t n, const uint8_t* bits) {
  // A row that starts inside a mask byte: its first weights one by one up to the byte
  // boundary, then the byte-aligned loops (hand-vectorized or portable) for the rest.
  const size_t head = std::min(n, static_cast<size_t>((8 - (offset & 7)) & 7));
  // f16 and bf16 both have +0 as all-zero bits.
  size_t pruned = t == DType::F32 ? apply_head(static_cast<float*>(w), offset, head, bits)
                                  : apply_head(static_cast<uint16_t*>(w), offset, head, bits);
  if (n > head) pruned += apply_mask_aligned(w, t, offset + head, n - head, bits);
  return pruned;
}

}  // namespace shears
