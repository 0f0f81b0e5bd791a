#include "cpu/dsnot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/bitmask.h"

namespace shears {
namespace {

// The variance a growing candidate is divided by, when a column is constant.
constexpr double kMinVariance = 1e-30;

inline void set_bit(uint8_t* bits, size_t i, bool keep) {
  const uint8_t b = static_cast<uint8_t>(1u << (i & 7));
  if (keep) bits[i >> 3] |= b;
  else bits[i >> 3] &= static_cast<uint8_t>(~b);
}

// Indices sorted by key, ties by index (what a stable sort of the reference gives).
std::vector<uint32_t> sorted_by(std::vector<uint32_t> idx, const std::vector<double>& key) {
  std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); });
  return idx;
}

struct ColumnMoments {
  std::vector<double> mean, variance, norm;
  ColumnMoments(const DsnotColumns& c, size_t cols) : mean(cols), variance(cols), norm(cols) {
    for (size_t j = 0; j < cols; ++j) {
      mean[j] = c.sum[j] / c.count;
      variance[j] = std::max(0.0, c.sum_sq[j] / c.count - mean[j] * mean[j]);
      norm[j] = std::sqrt(c.sum_sq[j]);
    }
  }
};

struct RowOutcome {
  size_t swaps = 0;
  double before = 0, after = 0;
};

class RowRefiner {
 public:
  RowRefiner(const DsnotMatrix& w, const ColumnMoments& x, const DsnotParams& p, size_t r)
      : w_(w), x_(x), p_(p), bit0_(r * w.cols), d_(w.dense + r * w.cols), c_(w.current + r * w.cols),
        grow_key_(w.cols), wanda_(w.cols) {}

  RowOutcome run() {
    const size_t cols = w_.cols;
    double e = 0;
    std::vector<uint32_t> pruned, kept;
    for (size_t j = 0; j < cols; ++j) {
      e += (static_cast<double>(d_[j]) - c_[j]) * x_.mean[j];
      const double m = static_cast<double>(d_[j]) * x_.mean[j];
      grow_key_[j] = m / std::max(x_.variance[j], kMinVariance);
      wanda_[j] = std::fabs(static_cast<double>(c_[j])) * x_.norm[j];
      if (!kept_at(j)) {
        if (m != 0) pruned.push_back(static_cast<uint32_t>(j));
      } else {
        kept.push_back(static_cast<uint32_t>(j));
      }
    }
    RowOutcome out;
    out.before = std::fabs(e);
    // Growing: the initially pruned weights by W E[x] / Var[x]; the most negative at the
    // front, the most positive at the back (each end used once).
    const std::vector<uint32_t> grow = sorted_by(std::move(pruned), grow_key_);
    // Pruning (unstructured): the initially kept weights by their Wanda score, split by the
    // sign of their error contribution.
    std::vector<uint32_t> negative, positive;
    if (p_.m == 0)
      for (uint32_t j : sorted_by(std::move(kept), wanda_)) {
        const double m = static_cast<double>(c_[j]) * x_.mean[j];
        if (m < 0) negative.push_back(j);
        else if (m > 0) positive.push_back(j);
      }
    std::vector<uint8_t> grown(p_.m != 0 ? cols : 0, 0);
    size_t lo = 0, hi = grow.size(), neg = 0, pos = 0;
    const bool sign0 = e > 0;
    for (int cycle = 0; cycle < p_.max_cycles && std::fabs(e) > p_.threshold && lo < hi; ++cycle) {
      const bool high = e > 0;
      const uint32_t g = high ? grow[hi - 1] : grow[lo];
      if (high ? grow_key_[g] <= 0 : grow_key_[g] >= 0) break;  // nothing left that cancels the error
      size_t q;
      if (p_.m == 0) {
        const std::vector<uint32_t>& list = high ? negative : positive;
        size_t& at = high ? neg : pos;
        if (at >= list.size()) break;
        q = list[at];
      } else {
        q = lowest_kept_in_group(g, grown);
        if (q == SIZE_MAX) break;
      }
      const double after = e - static_cast<double>(d_[g]) * x_.mean[g] + static_cast<double>(c_[q]) * x_.mean[q];
      // A swap must lower |e_i|; under N:M it must also keep e_i's sign, as the reference's.
      if (!(std::fabs(after) < std::fabs(e))) break;
      if (p_.m != 0 && after != 0 && (after > 0) != sign0) break;
      c_[g] = d_[g];
      set_bit(w_.keep, bit0_ + g, true);
      c_[q] = 0;
      set_bit(w_.keep, bit0_ + q, false);
      e = after;
      ++out.swaps;
      if (high) --hi;
      else ++lo;
      if (p_.m == 0) ++(high ? neg : pos);
      else grown[g] = 1;
    }
    out.after = std::fabs(e);
    return out;
  }

 private:
  bool kept_at(size_t j) const { return get_bit(w_.keep, bit0_ + j); }

  // The kept weight of g's group of M with the lowest Wanda score (not one grown in this
  // refinement; ties: the lowest column), or SIZE_MAX.
  size_t lowest_kept_in_group(size_t g, const std::vector<uint8_t>& grown) const {
    const size_t m = static_cast<size_t>(p_.m);
    const size_t start = g - g % m, end = std::min(start + m, w_.cols);
    size_t best = SIZE_MAX;
    for (size_t j = start; j < end; ++j)
      if (kept_at(j) && !grown[j] && (best == SIZE_MAX || wanda_[j] < wanda_[best])) best = j;
    return best;
  }

  const DsnotMatrix& w_;
  const ColumnMoments& x_;
  const DsnotParams& p_;
  const size_t bit0_;
  const float* d_;
  float* c_;
  std::vector<double> grow_key_, wanda_;
};

}  // namespace

DsnotResult dsnot_refine(const DsnotMatrix& w, const DsnotColumns& x, const DsnotParams& p) {
  const ColumnMoments moments(x, w.cols);
  std::vector<RowOutcome> rows(w.rows);
  // Chunks of whole mask bytes: no byte is written by two threads.
  const size_t grain = byte_aligned_row_multiple(w.cols) * std::max<size_t>(1, 4096 / std::max<size_t>(w.cols, 1));
  parallel_for(w.rows, grain, [&](size_t, size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; ++r) rows[r] = RowRefiner(w, moments, p, r).run();
  });
  DsnotResult out;
  for (const RowOutcome& r : rows) {
    out.swaps += r.swaps;
    out.error_before += r.before;
    out.error_after += r.after;
  }
  return out;
}

}  // namespace shears
