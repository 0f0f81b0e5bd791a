// SparseGPT (Frantar & Alistarh 2023): prune a weight matrix W [rows, cols] and
// reconstruct the kept weights so that W X^T changes least, given S = X^T X of the
// layer's inputs over n calibration rows.
//
// Reference semantics (what test/support/sparsegpt-reference.ts does in plain loops):
//   H = 2 S / n; dead inputs (H_jj == 0) get H_jj = 1 and W[:, j] = 0;
//   H += percdamp * mean(diag H) * I;  U = upper Cholesky factor of H^-1 (float64).
//   For each block of columns [i1, i2) (block_size wide):
//     unstructured, block selection: prune the floor(s * rows * (i2-i1)) lowest
//       w^2 / U_jj^2 of the whole tile (ties: lower row-major index of the tile first);
//     row selection: floor(s * (i2-i1)) lowest per row of the tile;
//     N:M: at each group start (column index multiple of M, M divides block_size),
//       the M-N lowest of the group's current values per row (a trailing group of
//       r < M columns prunes max(0, r-N));
//     for each column i in order, per row: q = pruned ? 0 : w_i; e = (w_i - q) / U_ii;
//       w_j -= e * U_ij for the block's later columns j; w_i = q; E[:, i] = e;
//     then W[:, i2:] -= E * U[i1:i2, i2:]  (lazy batch update).
//   Given mask (p.keep_bits): no selection; pruned = the mask's 0 bits, the same column
//     sequence and updates (q = 0 exactly where the mask prunes), so the kept weights are
//     reconstructed for any method's mask. Dead inputs: only the mask's pruned weights
//     there are zeroed first; kept ones keep their value. The output mask is the given
//     one bit for bit (also where a kept weight is or becomes 0).
// W is held in float64 while working (masks then agree with a float64 reference even
// for near-equal scores) and written back in its storage dtype (round to nearest even).
#pragma once
#include <cstddef>

#include "core/backend.h"

namespace shears {

// Prunes w in place. s: X^T X (cols x cols, symmetric, full storage) as double
// (s_f64) or float; count: number of rows accumulated into s. Every check (finite W
// and S, positive definite H) happens before w is written.
void sparsegpt_prune(const MatrixView& w, const void* s, bool s_f64, double count, const SparseGptParams& p,
                     MaskOut out);
// (SparseGptParams and kNotPositiveDefinite live in core/backend.h, with the op's
// entry point Backend::sparsegpt.)

}  // namespace shears
