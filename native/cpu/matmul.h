// Dense matmul of the forward pass: Y[n, out] = X[n, in] · W[out, in]^T (+ bias[out]).
// X and Y are float32 row-major; W stays in its stored dtype (f32, f16, bf16) and
// tiles of it are converted to float32 while they are packed. Accumulation is float32
// in a fixed k order per output, so results do not depend on the thread count.
// Reference semantics: y[r][o] = bias[o] + sum_k x[r][k] * float(w[o][k]).
#pragma once
#include <cstdint>

#include "core/matrix_view.h"

namespace shears {

// Instruction-set variants (portable, AVX2+FMA+F16C, AVX-512F) are compiled with
// target attributes and chosen per call by core/cpu_features (cpu_level()).

// parallel = false runs on the calling thread only (for callers that are already
// inside a parallel_for task).
void matmul(const float* x, int64_t n, const MatrixView& w, const float* bias, float* y, bool parallel = true);

// The same with row strides (in elements): row r of x at x + r*ldx, row o of W at
// element o*ldw of w.data (w.cols elements used), row r of y at y + r*ldy.
// Lets attention run on heads inside wider rows without copies.
void matmul_strided(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, const float* bias, float* y,
                    int64_t ldy, bool parallel = true);

}  // namespace shears
