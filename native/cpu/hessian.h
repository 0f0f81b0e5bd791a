// The SparseGPT input statistic: S = X^T X summed over batches of activation rows
// X [rows, cols] (float32), in a float64 or float32 accumulator of cols x cols.
// Reference semantics: S[i][j] += sum_t X[t][i] * X[t][j] for all i, j.
// Only the upper triangle is computed (blocked, syrk-style, tiles spread over the
// thread pool; each element sums in a fixed order) and then mirrored, so S stays a
// full symmetric matrix after every call.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// Flat index row*cols+col of the first non-finite value of x (lowest row, then lowest
// column), or SIZE_MAX when all are finite.
size_t first_nonfinite(const float* x, size_t rows, size_t cols);

// S += X^T X. T is double or float. x must be finite (checked by the caller).
template <typename T>
void accumulate_xtx(const float* x, size_t rows, size_t cols, T* s);

}  // namespace shears
