// Pruning scores: score_ij = |W_ij|^p * a_j^q (magnitude: p=1,q=0; Wanda: p=1,q=1
// with a = ||X_j||_2; RIA and others reuse the general form).
#pragma once
#include <cstddef>

#include "core/backend.h"

namespace shears {

// Scores n weights of one row (elements [offset, offset+n) of w) into out.
// Returns the index within the row of the first non-finite weight, or n if none.
size_t score_row(const void* w, DType t, size_t offset, size_t n, const ScoreParams& sp, float* out);

// Throws E_NONFINITE naming `what` if a value is NaN or infinite, E_RANGE if negative.
void check_statistic(const float* a, size_t n, const char* what);

// Throws E_RANGE unless p in (0, 4] and q in [0, 4] (scores then never become NaN), and
// for a per-weight term its exponent in (0, 4], scales >= 0, every value finite.
void check_score_params(const ScoreParams& sp, size_t rows, size_t cols);

}  // namespace shears
