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
#include "cpu/select_simd.h"

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

constexpr size_t kSample = 256;     // sample size for the bracket (wider bracket, cheaper sample)
constexpr size_t kSmallRow = 2048;  // below this, nth_element on the whole row is as fast

// A bracket [lo, hi] that holds the k-th smallest key with high probability, from a
// strided sample: the k-th key's rank in the sample is about k*m/n, give or take a few
// binomial standard deviations. Only two ranks of the sample are needed: nth_element.
void sample_bracket(const uint32_t* keys, size_t n, size_t k, RowScratch::Bracket& br) {
  uint32_t sample[kSample];
  const size_t stride = n / kSample;
  for (size_t i = 0; i < kSample; ++i) sample[i] = keys[i * stride + stride / 2];
  const double p = static_cast<double>(k) / static_cast<double>(n);
  const double sd = std::sqrt(static_cast<double>(kSample) * p * (1.0 - p));
  const double centre = p * static_cast<double>(kSample);
  const long margin = static_cast<long>(3.0 * sd) + 3;  // misses ~0.3% of rows: they take the fallback
  const long ilo = static_cast<long>(centre) - margin, ihi = static_cast<long>(centre) + margin;
  br.lo = 0u;
  br.hi = UINT32_MAX;
  if (ilo > 0) {
    std::nth_element(sample, sample + ilo, sample + kSample);
    br.lo = sample[ilo];
  }
  if (ihi < static_cast<long>(kSample)) {
    uint32_t* from = ilo > 0 ? sample + ilo : sample;
    std::nth_element(from, sample + ihi, sample + kSample);
    br.hi = sample[ihi];
  }
  br.n = n;
  br.k = k;
  br.valid = true;
}

// Exact k-th smallest (1-based) by nth_element on a copy; also counts ties pruned.
void kth_by_nth_element(const uint32_t* keys, size_t n, size_t k, uint32_t* work, uint32_t& T, size_t& ties) {
  std::copy(keys, keys + n, work);
  std::nth_element(work, work + (k - 1), work + n);
  T = work[k - 1];
  ties = 1;  // everything before position k-1 is <= T: those equal to T are pruned too
  for (size_t i = 0; i + 1 < k; ++i) ties += (work[i] == T);
}

// r-th smallest (1-based) of c[0..nc), all within [lo, hi], by one histogram pass on
// the high bits of (key - lo) (branch-free, unlike partitioning), then nth_element on
// the few keys of the bin that holds rank r. *less: how many keys are smaller.
uint32_t kth_in_range(const uint32_t* c, size_t nc, size_t r, uint32_t lo, uint32_t hi, std::vector<uint32_t>& bin,
                      size_t* less) {
  constexpr uint32_t kBins = 2048;
  uint32_t range = hi - lo;
  int shift = 0;
  while ((range >> shift) >= kBins) ++shift;
  const uint32_t nb = (range >> shift) + 1;
  uint32_t hist[kBins];
  std::fill(hist, hist + nb, 0u);
  for (size_t i = 0; i < nc; ++i) ++hist[(c[i] - lo) >> shift];
  size_t cum = 0;
  uint32_t b = 0;
  for (; b < nb; ++b) {
    if (cum + hist[b] >= r) break;
    cum += hist[b];
  }
  bin.resize(static_cast<size_t>(hist[b]) + 1);  // +1: the branch-free append writes one slot ahead
  size_t m = 0;
  for (size_t i = 0; i < nc; ++i) {
    bin[m] = c[i];
    m += ((c[i] - lo) >> shift) == b;
  }
  const size_t rb = r - cum;  // 1-based rank inside the bin
  std::nth_element(bin.begin(), bin.begin() + static_cast<long>(rb - 1), bin.begin() + static_cast<long>(m));
  const uint32_t T = bin[rb - 1];
  size_t lt = 0;
  for (size_t i = 0; i + 1 < rb; ++i) lt += bin[i] < T;  // entries before rb-1 are <= T
  *less = cum + lt;
  return T;
}

}  // namespace

void select_row_k(const float* scores, size_t n, size_t k, RowScratch& s, uint8_t* bits, size_t bit0, bool nonneg) {
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
  if (nonneg) {
    // For scores >= 0 order_key is the bits with the sign bit set (and -0 maps to the
    // key of +0 either way): one OR per key instead of the general mapping.
    const uint32_t* u = reinterpret_cast<const uint32_t*>(scores);
    for (size_t j = 0; j < n; ++j) keys[j] = u[j] | 0x80000000u;
  } else {
    for (size_t j = 0; j < n; ++j) keys[j] = order_key(scores[j]);
  }

  uint32_t T;
  size_t ties;
  if (n < kSmallRow) {
    kth_by_nth_element(keys, n, k, work, T, ties);
  } else {
    // Rows of one matrix have similar distributions, so the bracket of the previous
    // row (same length and k) is tried first; a fresh one is drawn from a sample when
    // there is none, when it misses, or when it grew too wide. Results are exact either way.
    RowScratch::Bracket& br = s.bracket;
    bool fresh = !(br.valid && br.n == n && br.k == k);
    for (;;) {
      if (fresh) sample_bracket(keys, n, k, br);
      size_t below = 0;
      const size_t nc = gather_bracket(keys, n, br.lo, br.hi, work, &below);
      if (below < k && k <= below + nc) {
        size_t less = 0;
        T = kth_in_range(work, nc, k - below, br.lo, br.hi, s.bin, &less);
        ties = k - below - less;
        br.valid = nc <= n / 4;  // a reused bracket that caught too much is redrawn next row
        break;
      }
      if (!fresh) {
        fresh = true;  // the previous row's bracket missed: draw one for this row
        continue;
      }
      br.valid = false;
      kth_by_nth_element(keys, n, k, work, T, ties);  // unlucky sample: exact fallback
      break;
    }
  }
  threshold_mask(keys, n, T, ties, bits, bit0);
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
