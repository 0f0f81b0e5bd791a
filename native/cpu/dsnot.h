// DSnoT's training-free mask refinement (Zhang et al., "Dynamic Sparse No Training",
// ICLR 2024; reference code github.com/zyxxmu/DSnoT, lib/prune.py prune_DSnoT). After a
// base method pruned a matrix, each output row i carries an expected output error
//   e_i = sum_j (W_ij - W'_ij) * E[x_j]
// (W the dense weights, W' the pruned ones: for Wanda the dense weights of the kept
// positions, for SparseGPT its reconstructed ones). Each cycle swaps one pruned weight
// back in (growing: the one whose W_ij E[x_j] / Var[x_j] is largest with the sign of e_i,
// so it cancels most error for the least variance) and one kept weight out (pruning: the
// lowest Wanda score |W'_ij| ||X_j|| among those whose W'_ij E[x_j] has the sign opposite
// to e_i; under N:M, the lowest in the grown weight's group of M), so each row keeps its
// count of pruned weights.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

struct DsnotParams {
  // At most this many swaps per row (the reference's max_cycle_time, 50).
  int max_cycles = 50;
  // A row stops once |e_i| is at most this (the reference's update_threshold).
  double threshold = 0.0;
  // N:M: swaps stay inside a group of m consecutive columns (0: unstructured).
  int n = 0, m = 0;
};

struct DsnotMatrix {
  // rows x cols, the dense weights (what a grown weight gets back).
  const float* dense;
  // rows x cols, the pruned weights: updated in place (grown: dense value, pruned: 0).
  float* current;
  // Packed keep bits of `current` (bit set = kept), updated in place.
  uint8_t* keep;
  size_t rows, cols;
};

// The layer input's column statistics over the calibration tokens (ColumnStats): the
// kernel derives E[x_j], Var[x_j] and ||X_j||_2 (the Wanda score of the pruning step).
struct DsnotColumns {
  const double* sum;
  const double* sum_sq;
  double count;
};

struct DsnotResult {
  size_t swaps = 0;
  // sum over rows of |e_i| before and after the refinement.
  double error_before = 0, error_after = 0;
};

// Rows in parallel, each on its own (the result does not depend on the thread count).
DsnotResult dsnot_refine(const DsnotMatrix& w, const DsnotColumns& x, const DsnotParams& p);

}  // namespace shears
