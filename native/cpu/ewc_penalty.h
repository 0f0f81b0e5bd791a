// The elastic-weight-consolidation penalty's sum: sum_i F_i (w_i - w*_i)^2 over the
// trained weights of one tensor (docs/gradient-methods.md, ewc; docs/finetune.md).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

// w: the float32 weights (the master copy of f16/bf16 storage); fisher: float32;
// anchor: the anchor weights w* in anchor_dtype (f32, f16 or bf16: the dense input's own
// storage, read through a mapping). keep: packed bits (bit i set: weight i trains); a
// weight whose bit is clear is held at zero, its term is a constant and is left out.
// Null keep: every weight counts. Summed in double, per chunk, the chunks added in
// order: the same bits for any thread count.
double ewc_penalty_sum(const float* w, const float* fisher, const void* anchor, DType anchor_dtype, size_t n, const uint8_t* keep);

}  // namespace shears
