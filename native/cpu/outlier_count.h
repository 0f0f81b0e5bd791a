// OWL's outlier statistic (Yin et al. 2024) for one matrix: the Wanda score
// |W_ij| * ||X_j|| of every weight (a float32 product, as the reference's), their sum (for
// the block's mean) and how many exceed a threshold (M times that mean).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/matrix_view.h"

namespace shears {

struct OutlierCount {
  /** Sum of the scores, in double, added in fixed row chunks (the same bits for any thread count). */
  double score_sum = 0;
  /** Scores strictly greater than the threshold. */
  uint64_t above = 0;
};

// act: cols values (||X_j||). A NaN score counts as not above and makes the sum NaN.
OutlierCount outlier_count(const MatrixView& w, const float* act, double threshold);

}  // namespace shears
