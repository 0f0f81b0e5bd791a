// Per-input-column activation statistics, accumulated over batches of rows:
// sum, sum of squares (Wanda's ||X_j||_2^2), and how often |x| exceeds a threshold.
// Accumulated in double, columns split across threads (no reduction order issues).
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// Statistics of one batch for columns [c0, c1): written (not added) to s, q and ex
// (ex may be null) at the same column indices. Returns the flat index row*cols+col of
// the first non-finite value in those columns, or SIZE_MAX when all are finite.
size_t column_stats_range(const float* x, int64_t rows, int64_t cols, int64_t c0, int64_t c1, double* s, double* q,
                          double* ex, float threshold);

}  // namespace shears
