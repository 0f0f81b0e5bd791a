// Per-row selection of the k lowest scores: order keys, then the k-th smallest key
// by nth_element on a copy (linear time), then one pass that writes the mask.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"
#include "cpu/bitmask.h"
#include "cpu/order_key.h"
#include "cpu/select.h"

namespace shears {

size_t prune_count(double sparsity, size_t count) {
  return static_cast<size_t>(std::floor(sparsity * static_cast<double>(count)));
}

void check_selection(const Selection& sel) {
  if (sel.nm()) {
    if (sel.n < 1 || sel.m > 32 || sel.n >= sel.m)
      fail(kRangeError, "N:M pattern needs 1 <= N < M <= 32, got " + std::to_string(sel.n) + ":" + std::to_string(sel.m));
    return;
  }
  if (!(sel.sparsity >= 0.0 && sel.sparsity < 1.0))
    fail(kRangeError, "sparsity must be in [0, 1), got " + std::to_string(sel.sparsity));
}

// Writes keep bits for a row given the threshold key T and how many keys equal to
// T are pruned (the first `ties` of them in index order).
static void write_threshold_mask(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0) {
  size_t seen = 0;
  write_bits(bits, bit0, n, [&](size_t j) {
    uint32_t kj = keys[j];
    if (kj < T) return false;
    if (kj == T && seen < ties) {
      ++seen;
      return false;
    }
    return true;
  });
}

void select_row_k(const float* scores, size_t n, size_t k, RowScratch& s, uint8_t* bits, size_t bit0) {
  if (k == 0) {
    write_bits(bits, bit0, n, [](size_t) { return true; });
    return;
  }
  s.reserve(n);
  uint32_t* keys = s.keys.data();
  uint32_t* work = s.work.data();
  for (size_t j = 0; j < n; ++j) keys[j] = order_key(scores[j]);
  if (k >= n) {
    write_bits(bits, bit0, n, [](size_t) { return false; });
    return;
  }
  std::copy(keys, keys + n, work);
  std::nth_element(work, work + (k - 1), work + n);
  uint32_t T = work[k - 1];
  // Everything before position k-1 is <= T: those equal to T are pruned ties too.
  size_t ties = 1;
  for (size_t i = 0; i + 1 < k; ++i) ties += (work[i] == T);
  write_threshold_mask(keys, n, T, ties, bits, bit0);
}

void select_row_sort(const float* scores, size_t n, size_t k, std::vector<uint32_t>& idx, uint8_t* bits, size_t bit0) {
  idx.resize(n);
  std::iota(idx.begin(), idx.end(), 0u);
  std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    uint32_t ka = order_key(scores[a]), kb = order_key(scores[b]);
    return ka != kb ? ka < kb : a < b;
  });
  write_bits(bits, bit0, n, [](size_t) { return true; });
  for (size_t i = 0; i < k && i < n; ++i) {
    size_t b = bit0 + idx[i];
    bits[b >> 3] &= static_cast<uint8_t>(~(1u << (b & 7)));
  }
}

}  // namespace shears
