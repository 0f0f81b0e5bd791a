// Zeroing pruned weights in place from a packed keep-mask.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

// Zeroes elements [offset, offset+n) of w whose keep bit (same index) is 0.
// Returns how many were zeroed by the mask (already-zero weights count too).
size_t apply_mask_range(void* w, DType t, size_t offset, size_t n, const uint8_t* bits);

}  // namespace shears
