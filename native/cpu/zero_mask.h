// Where a matrix's weights are exactly zero (+0 or -0): the mask that fine-tuning holds.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

// Sets bit i (little-endian within bytes) of `bits` (ceil(n / 8) bytes, fully written)
// where element i of `data` (f32, f16 or bf16) is +0 or -0; returns how many are.
size_t zero_mask(const void* data, DType dtype, size_t n, uint8_t* bits);

}  // namespace shears
