#include "cpu/ria_permute.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/ria_lsa.h"

namespace shears {

namespace {

// Sorts k <= 32 values in descending order (insertion sort: k is tiny).
void sort_desc(float* v, size_t k) {
  for (size_t i = 1; i < k; ++i) {
    const float x = v[i];
    size_t j = i;
    for (; j > 0 && v[j - 1] < x; --j) v[j] = v[j - 1];
    v[j] = x;
  }
}

// Sum of the n highest of k values (all of them when k <= n), highest first.
double top_sum(float* v, size_t k, size_t n) {
  sort_desc(v, k);
  double s = 0.0;
  for (size_t t = 0; t < std::min(k, n); ++t) s += v[t];
  return s;
}

constexpr size_t kColumnStripe = 256;

// Sum of max(x[i], y[i]) in double, in 8 interleaved partial sums added in a fixed order:
// independent additions (the value matrix's inner loop) at the same bits every run.
double sum_of_max(const float* x, const float* y, size_t n) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t k = 0; k < 8; ++k) part[k] += std::max(x[i + k], y[i + k]);
  for (; i < n; ++i) part[i % 8] += std::max(x[i], y[i]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// The quantile deal: channels ranked by total score (ascending, ties by index); slot s of
// group g gets the g-th channel of quantile s, in reverse for odd slots (the reference's
// snake order), so each group holds one channel of each quantile.
std::vector<int32_t> quantile_deal(const float* scores, size_t rows, size_t cols, size_t groups, size_t m) {
  const size_t c = groups * m;
  std::vector<double> total(c, 0.0);
  parallel_for(c, kColumnStripe, [&](size_t, size_t b, size_t e) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = b; j < e; ++j) total[j] += scores[r * cols + j];
  });
  std::vector<int32_t> order(c);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return total[x] < total[y]; });
  std::vector<int32_t> deal(c);
  for (size_t s = 0; s < m; ++s)
    for (size_t g = 0; g < groups; ++g) deal[g * m + s] = order[s * groups + (s % 2 == 1 ? groups - 1 - g : g)];
  return deal;
}

// One assignment over groups [g0, g0 + b) for slot s: value[r][g] is group g's retained
// score with its slot-s channel replaced by group r's. Group g's other m - 1 channels give,
// per row, base = their n - 1 highest and thr = their n-th highest, so its retained score
// with x in slot s is base + max(x, thr). Rewrites perm's slot s of those groups when the
// assignment keeps more than the current one (same sums, same order: a fair comparison).
// by_column: the scores transposed (channel c's scores at by_column + c * rows, contiguous).
void assign_slot(const float* by_column, size_t rows, size_t n, size_t m, size_t s, size_t g0, size_t b, int32_t* perm) {
  std::vector<float> thr(b * rows), x(b * rows);
  std::vector<double> base(b, 0.0);
  parallel_for(b, 1, [&](size_t, size_t lo, size_t hi) {
    float others[32];
    for (size_t g = lo; g < hi; ++g) {
      const int32_t* ch = perm + (g0 + g) * m;
      const float* column[32];
      for (size_t t = 0; t < m; ++t) column[t] = by_column + static_cast<size_t>(ch[t]) * rows;
      double sum = 0.0;
      for (size_t i = 0; i < rows; ++i) {
        size_t k = 0;
        for (size_t t = 0; t < m; ++t)
          if (t != s) others[k++] = column[t][i];
        sort_desc(others, k);
        for (size_t t = 0; t + 1 < n; ++t) sum += others[t];
        thr[g * rows + i] = others[n - 1];
        x[g * rows + i] = column[s][i];
      }
      base[g] = sum;
    }
  });
  std::vector<double> value(b * b);
  parallel_for(b, 1, [&](size_t, size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; ++r) {
      const float* xr = x.data() + r * rows;
      for (size_t g = 0; g < b; ++g) {
        value[r * b + g] = base[g] + sum_of_max(xr, thr.data() + g * rows, rows);
      }
    }
  });
  const std::vector<size_t> to = max_assignment(value.data(), b);  // group r's channel goes to group to[r]
  std::vector<size_t> from(b);
  for (size_t r = 0; r < b; ++r) from[to[r]] = r;
  double now = 0.0, after = 0.0;
  for (size_t g = 0; g < b; ++g) {
    now += value[g * b + g];
    after += value[from[g] * b + g];
  }
  if (!(after > now)) return;
  std::vector<int32_t> slot(b);
  for (size_t g = 0; g < b; ++g) slot[g] = perm[(g0 + from[g]) * m + s];
  for (size_t g = 0; g < b; ++g) perm[(g0 + g) * m + s] = slot[g];
}

}  // namespace

double ria_retained(const float* scores, size_t rows, size_t cols, int n, int m, const int32_t* perm) {
  const size_t nn = static_cast<size_t>(n), mm = static_cast<size_t>(m);
  return parallel_sum<double>(rows, 16, [&](size_t b, size_t e) {
    float buf[32];
    double s = 0.0;
    for (size_t r = b; r < e; ++r) {
      const float* row = scores + r * cols;
      for (size_t g = 0; g < cols; g += mm) {
        const size_t k = std::min(mm, cols - g);
        for (size_t t = 0; t < k; ++t) buf[t] = row[perm[g + t]];
        s += top_sum(buf, k, nn);
      }
    }
    return s;
  });
}

RiaPermutation ria_channel_permutation(const float* scores, size_t rows, size_t cols, int n, int m, size_t lsa_groups,
                                       int32_t* perm) {
  const size_t nn = static_cast<size_t>(n), mm = static_cast<size_t>(m), groups = cols / mm;
  RiaPermutation out;
  std::iota(perm, perm + cols, 0);
  out.identity = ria_retained(scores, rows, cols, n, m, perm);
  out.retained = out.identity;
  if (groups < 2) return out;  // one group: nothing to exchange

  std::vector<int32_t> deal = quantile_deal(scores, rows, cols, groups, mm);
  std::vector<int32_t> trial(perm, perm + cols);
  std::copy(deal.begin(), deal.end(), trial.begin());
  out.heuristic = ria_retained(scores, rows, cols, n, m, trial.data());
  if (out.heuristic > out.identity) {
    std::copy(trial.begin(), trial.end(), perm);
    out.retained = out.heuristic;
    out.from_heuristic = true;
  }
  if (lsa_groups < 2) return out;

  // Blocks of consecutive groups of near-equal size, at most lsa_groups each.
  const size_t blocks = (groups + lsa_groups - 1) / lsa_groups;
  std::vector<float> by_column(rows * cols);
  parallel_for(cols, 64, [&](size_t, size_t b, size_t e) {
    for (size_t j = b; j < e; ++j)
      for (size_t r = 0; r < rows; ++r) by_column[j * rows + r] = scores[r * cols + j];
  });
  for (size_t s = 0; s < mm; ++s) {
    std::copy(perm, perm + cols, trial.begin());
    for (size_t k = 0; k < blocks; ++k) {
      const size_t g0 = k * groups / blocks, g1 = (k + 1) * groups / blocks;
      if (g1 - g0 >= 2) assign_slot(by_column.data(), rows, nn, mm, s, g0, g1 - g0, trial.data());
    }
    const double kept = ria_retained(scores, rows, cols, n, m, trial.data());
    if (kept > out.retained) {  // the whole round, checked on the same sum as the identity's
      std::copy(trial.begin(), trial.end(), perm);
      out.retained = kept;
      ++out.lsa_rounds_accepted;
    }
  }
  return out;
}

}  // namespace shears
