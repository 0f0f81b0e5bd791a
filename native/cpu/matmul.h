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

// y += x W^T with the same strides (for gradients that accumulate: dW += dY^T X).
// Per output, the KC slices' sums are added to y in k order: deterministic too.
void matmul_accumulate(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, float* y, int64_t ldy,
                       bool parallel = true);

// y (+)= x W for W stored [in, out] (w.rows = in, w.cols = out; row k of W at element
// k*ldw): the products of the backward (dY W, dY^T X, dS K...) without transposing W.
// Same kernel, same fixed k order per output.
void matmul_nn(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, float* y, int64_t ldy,
               bool accumulate, bool parallel = true);

// Backward of y = x W^T + b over n rows (matmul_backward.cc), all float32 results:
//   dx  = dy W        (null: not wanted; accumulate_dx: dx += dy W)
//   dw += dy^T x      [out, in]   (null: not wanted; accumulate_dw false: dw = dy^T x,
//                                  so fresh memory is first touched by a write)
//   db += sum_r dy[r] [out]       (null: not wanted)
// Fixed summation orders: the same bits for any thread count.
void linear_backward(const float* x, const float* dy, int64_t n, const MatrixView& w, float* dx, bool accumulate_dx,
                     float* dw, float* db, bool accumulate_dw = true);

}  // namespace shears
