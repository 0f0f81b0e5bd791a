// Choosing which weights to prune, given their scores. Lowest scores are pruned;
// among equal scores the lower index (input column; row-major flat index for
// matrix and global selections; then matrix order) is pruned first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace shears {

// Scratch buffers one thread reuses across rows.
struct RowScratch {
  std::vector<uint32_t> keys, work, bin;
  // The last bracket [lo, hi] that held the k-th key of a row of length n (reused for
  // the next row of the same matrix; see select_row.cc).
  struct Bracket {
    bool valid = false;
    size_t n = 0, k = 0;
    uint32_t lo = 0, hi = 0;
  } bracket;
  std::vector<float> scores;
  void reserve(size_t n) {
    if (keys.size() < n) {
      keys.resize(n);
      work.resize(n);
      scores.resize(n);
    }
  }
};

// Prunes exactly k of the n scores of one row; writes keep bits at bit offset bit0.
// nonneg: the scores are known to be >= 0 (computed scores; -0 is fine too), which
// allows a cheaper key mapping with the same order.
void select_row_k(const float* scores, size_t n, size_t k, RowScratch& s, uint8_t* bits, size_t bit0, bool nonneg = false);

// N:M along one row: in each group of m consecutive entries keep the n highest;
// a trailing group of r < m entries keeps min(n, r). Returns the number pruned.
size_t select_row_nm(const float* scores, size_t len, int n, int m, uint8_t* bits, size_t bit0);

// floor(sparsity * count) computed in double, as the reference and the papers do.
size_t prune_count(double sparsity, size_t count);

// Validates a selection spec (sparsity in [0,1), 1 <= n < m <= 32). Throws E_RANGE.
void check_selection(const Selection& sel);

// k smallest over several score arrays viewed as one sequence (matrix and global
// granularity). Multithreaded radix selection on order keys.
struct ScoreBlock {
  const float* scores;
  size_t count;
  uint8_t* bits;          // keep bits for this block, starting at bit 0
  uint32_t* pruned_per_row;  // may be null
  size_t cols;            // row length for pruned_per_row
};
void select_k_smallest(std::vector<ScoreBlock>& blocks, size_t k);

// Reference used by the benchmark: a full sort of every row (what a naive
// implementation does). Same results as select_row_k.
void select_row_sort(const float* scores, size_t n, size_t k, std::vector<uint32_t>& idx, uint8_t* bits, size_t bit0);

}  // namespace shears
