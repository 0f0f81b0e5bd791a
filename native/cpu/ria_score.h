// RIA's score (Zhang et al., ICLR 2024, "Plug-and-Play"): the relative importance of a
// weight within its input column and within its output row, times the activation norm
// of its input column to the power a:
//   score_ij = (|W_ij| / sum_k |W_kj| + |W_ij| / sum_k |W_ik|) * act_j^a
// It needs W's row and column sums, which the general score kernel (score.h) has no
// term for, hence its own op.
#pragma once
#include <cstddef>

#include "core/matrix_view.h"

namespace shears {

// Writes the score of every weight of w into out (rows x cols floats). Sums of |W| and
// the score are formed in double and rounded to float once; a row or column whose |W|
// sums to 0 contributes 0 (all its weights are 0). The same bits for any thread count.
// Throws E_NONFINITE at the first (lowest row, then column) non-finite weight, E_NONFINITE
// or E_RANGE for a non-finite or negative act_j, E_RANGE unless a is in [0, 4].
void ria_score(const MatrixView& w, const float* act, double a, float* out);

}  // namespace shears
