// Row normalization. RMSNorm: y = x / sqrt(mean(x^2) + eps) * w.
// LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * w + b (biased variance).
// Row statistics are summed in double; the output is float32.
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

// out[r] = norm(in[r]) for rows [0, rows); in and out may be the same buffer.
void norm_rows(const NormSpec& spec, const float* in, float* out, int64_t rows, int64_t dim);

}  // namespace shears
