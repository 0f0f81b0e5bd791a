// The keep-mask fine-tuning trains under (bit set: trains) from a tensor's zero bits
// (cpu/zero_mask.h): the complement, with the bits past element n - 1 left clear so that
// checksums of the packed bytes stay stable.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// zero and keep: ceil(n / 8) bytes each; keep is fully written.
void keep_from_zeros(const uint8_t* zero, size_t n, uint8_t* keep);

}  // namespace shears
