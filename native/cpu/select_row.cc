// Per-row selection of the k lowest scores (ties: lower index first).
//
// The k-th smallest order key is found in expected linear time with few passes:
// a fixed sample of the row brackets the answer between two keys [lo, hi]; one
// branch-free pass counts the keys below lo and gathers those inside the bracket;
// nth_element on that small candidate set gives the exact key T. If the sample was
// unlucky (the answer lies outside the bracket) the row falls back to nth_element on
// all of it, so the result is always exact. A final pass writes the mask: keys < T
// are pruned, and the first `ties` keys equal to T in index order.
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

namespace {

constexpr size_t kSample = 512;     // sample size for the bracket
constexpr size_t kSmallRow = 2048;  // below this, nth_element on the whole row is as fast

// Keep bits for a row given the threshold key T and how many keys equal to T are
// pruned (the first `ties` of them in index order). Eight keys make one mask byte;
// the rare bytes that hold a key equal to T are finished one bit at a time.
void write_threshold_mask(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0) {
  size_t seen = 0;
  auto keep_slow = [&](size_t j) {
    uint32_t kj = keys[j];
    if (kj < T) return false;
    if (kj == T && seen < ties) {
      ++seen;
      return false;
    }
    return true;
  };
  size_t j = 0;
  size_t head = std::min(n, static_cast<size_t>((8 - (bit0 & 7)) & 7));
  write_bits(bits, bit0, head, keep_slow);
  j = head;
  for (; j + 8 <= n; j += 8) {
    const uint32_t* k8 = keys + j;
    unsigned lt = 0, eq = 0;
    for (unsigned t = 0; t < 8; ++t) {
      lt |= static_cast<unsigned>(k8[t] < T) << t;
      eq |= static_cast<unsigned>(k8[t] == T) << t;
    }
    unsigned keep = ~lt & 0xffu;
    if (eq != 0 && seen < ties) {
      for (unsigned t = 0; t < 8; ++t)
        if (((eq >> t) & 1u) && seen < ties) {
          keep &= ~(1u << t);
          ++seen;
        }
    }
    bits[(bit0 + j) >> 3] = static_cast<uint8_t>(keep);
  }
  write_bits(bits, bit0 + j, n - j, [&](size_t t) { return keep_slow(j + t); });
}

// Exact k-th smallest (1-based) by nth_element on a copy; also counts ties pruned.
void kth_by_nth_element(const uint32_t* keys, size_t n, size_t k, uint32_t* work, uint32_t& T, size_t& ties) {
  std::copy(keys, keys + n, work);
  std::nth_element(work, work + (k - 1), work + n);
  T = work[k - 1];
  ties = 1;  // everything before position k-1 is <= T: those equal to T are pruned too
  for (size_t i = 0; i + 1 < k; ++i) ties += (work[i] == T);
}

}  // namespace

void select_row_k(const float* scores, size_t n, size_t k, RowScratch& s, uint8_t* bits, size_t bit0) {
  if (k == 0) {
    write_bits(bits, bit0, n, [](size_t) { return true; });
    return;
  }
  if (k >= n) {
    write_bits(bits, bit0, n, [](size_t) { return false; });
    return;
  }
  s.reserve(n);
  uint32_t* keys = s.keys.data();
  uint32_t* work = s.work.data();
  for (size_t j = 0; j < n; ++j) keys[j] = order_key(scores[j]);

  uint32_t T;
  size_t ties;
  if (n < kSmallRow) {
    kth_by_nth_element(keys, n, k, work, T, ties);
  } else {
    // Bracket from a strided sample: the k-th key's rank in the sample is about
    // k*m/n, give or take a few binomial standard deviations.
    uint32_t sample[kSample];
    const size_t stride = n / kSample;
    for (size_t i = 0; i < kSample; ++i) sample[i] = keys[i * stride + stride / 2];
    std::sort(sample, sample + kSample);
    const double p = static_cast<double>(k) / static_cast<double>(n);
    const double sd = std::sqrt(static_cast<double>(kSample) * p * (1.0 - p));
    const double centre = p * static_cast<double>(kSample);
    const long margin = static_cast<long>(4.0 * sd) + 4;
    const long ilo = static_cast<long>(centre) - margin, ihi = static_cast<long>(centre) + margin;
    const uint32_t lo = ilo <= 0 ? 0u : sample[ilo];
    const uint32_t hi = ihi >= static_cast<long>(kSample) ? UINT32_MAX : sample[ihi];
    // One pass: count below the bracket, gather the bracket (branch-free append).
    size_t below = 0, nc = 0;
    const uint32_t width = hi - lo;
    for (size_t j = 0; j < n; ++j) {
      uint32_t key = keys[j];
      below += key < lo;
      work[nc] = key;
      nc += (key - lo) <= width;
    }
    if (below < k && k <= below + nc) {
      size_t r = k - below;  // 1-based rank inside the candidates
      std::nth_element(work, work + (r - 1), work + nc);
      T = work[r - 1];
      ties = 1;
      for (size_t i = 0; i + 1 < r; ++i) ties += (work[i] == T);
    } else {
      kth_by_nth_element(keys, n, k, work, T, ties);  // unlucky sample: exact fallback
    }
  }
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
