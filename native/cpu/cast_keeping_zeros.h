// Casting a fine-tuned tensor to another storage dtype without moving its sparsity mask:
// a kept weight that would round to zero is stored as the smallest nonzero value of the
// target dtype with its sign (as the optimizer stores it, cpu/adamw.h), so the zeros of
// the output are exactly the pruned positions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

// dst[i] = src[i] rounded to dst_dtype (round to nearest even, as the converter does);
// where keep bit i is set and the result is +0 or -0, the smallest nonzero value with
// src[i]'s sign instead. Null keep: a plain cast. Elementwise on the thread pool.
void cast_keeping_zeros(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t n, const uint8_t* keep);

}  // namespace shears
