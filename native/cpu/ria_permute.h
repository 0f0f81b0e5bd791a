// RIA's channel permutation for N:M sparsity (Zhang et al., ICLR 2024, section 3.2 and the
// reference code's --reallocation --lsa): reorder a matrix's input channels so that an N:M
// selection along each row keeps more of the score. Channels are ranked by their total
// score and dealt out so that each group of M consecutive channels gets one channel of
// each quantile (the heaviest spread over the groups, snake order); then, for each slot
// of the M in turn, the channels in that slot are reassigned among the groups by a linear
// sum assignment that maximizes the retained score (in blocks of at most lsa_groups
// groups, as the reference's --fast variant bounds its cost).
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

struct RiaPermutation {
  // Sum over rows and groups of the N highest scores of each group of M:
  double identity = 0;   // in the stored order
  double heuristic = 0;  // after the quantile deal alone
  double retained = 0;   // with the permutation returned
  bool from_heuristic = false;  // the assignment started from the deal (else from the stored order, which kept more)
  int lsa_rounds_accepted = 0;  // slot rounds that raised the retained score
};

// scores: rows x cols, finite and >= 0. perm (cols entries): perm[k] = the input channel
// placed at position k. Only the first floor(cols / m) * m channels move (a trailing
// partial group keeps its channels). The retained score never falls below the identity's:
// the deal is used only when it keeps more, and an assignment round only when it does.
// lsa_groups = 0 skips the assignment rounds. Deterministic: the same bits for any thread count.
RiaPermutation ria_channel_permutation(const float* scores, size_t rows, size_t cols, int n, int m, size_t lsa_groups,
                                       int32_t* perm);

// The retained score of scores under perm (the quantity above).
double ria_retained(const float* scores, size_t rows, size_t cols, int n, int m, const int32_t* perm);

}  // namespace shears
