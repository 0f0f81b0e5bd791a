// Row normalization. RMSNorm: y = x / sqrt(mean(x^2) + eps) * w.
// LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * w + b (biased variance).
// Row statistics are summed in double; the output is float32.
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

// out[r] = norm(in[r]) for rows [0, rows); in and out may be the same buffer.
void norm_rows(const NormSpec& spec, const float* in, float* out, int64_t rows, int64_t dim);

// Backward of out = norm(in), given dout: dx = d norm / d in (written, or added to dx
// when accumulate), dw += sum_r dout * xhat, db += sum_r dout (null: not wanted).
// With xhat = (x - mean) * inv and g = dout * w:
//   RMSNorm:   dx = inv * (g - xhat * mean(g * xhat))
//   LayerNorm: dx = inv * (g - mean(g) - xhat * mean(g * xhat))
// dw/db partials are summed per fixed chunk of rows, then over chunks in order.
void norm_backward(const NormSpec& spec, const float* in, const float* dout, float* dx, bool accumulate, float* dw,
                   float* db, int64_t rows, int64_t dim);

}  // namespace shears
