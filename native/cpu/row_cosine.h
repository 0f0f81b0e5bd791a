// Cosine similarity of matching rows of two [rows, cols] float matrices, summed over the
// rows: ShortGPT's block influence is 1 - the mean cosine of a block's input and output.
#pragma once
#include <cstddef>

namespace shears {

// Sum over r of cos(a[r], b[r]); a row with a zero norm contributes 1 when both rows are
// zero (nothing changed), else 0. Accumulates in double.
double row_cosine_sum(const float* a, const float* b, size_t rows, size_t cols);

}  // namespace shears
