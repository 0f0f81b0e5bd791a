// The proof that a fine-tune held its mask: how many pruned weights (keep bit clear) are
// no longer zero (zero bit clear, read back from the trained weights by cpu/zero_mask.h).
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// keep and zero: ceil(n / 8) bytes each; bits past element n - 1 are ignored.
size_t pruned_nonzero(const uint8_t* keep, const uint8_t* zero, size_t n);

}  // namespace shears
