// The CPU backend: the oracle every other backend is tested against. Rows (or
// column ranges) are spread over the thread pool; each thread keeps its scratch.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstring>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/apply_mask.h"
#include "cpu/bitmask.h"
#include "cpu/column_stats.h"
#include "cpu/hessian.h"
#include "cpu/order_key.h"
#include "cpu/score.h"
#include "cpu/select.h"
#include "cpu/sparsegpt.h"

namespace shears {

namespace {

thread_local RowScratch tls_scratch;

std::string where(int64_t r, int64_t c) { return "row " + std::to_string(r) + ", column " + std::to_string(c); }

// Keeps the first failing row of a parallel loop (lowest row wins, so the message
// does not depend on thread timing).
struct FirstBad {
  std::atomic<size_t> row{SIZE_MAX};
  size_t col = 0;
  std::mutex m;
  void report(size_t r, size_t c) {
    std::lock_guard<std::mutex> g(m);
    if (r < row.load()) {
      row.store(r);
      col = c;
    }
  }
  bool any() const { return row.load() != SIZE_MAX; }
};

void check_scores_not_nan(const float* s, int64_t rows, int64_t cols) {
  FirstBad bad;
  size_t n = static_cast<size_t>(rows);
  parallel_for(n, balanced_grain(n, 16), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* row = s + r * static_cast<size_t>(cols);
      bool nan = false;
      for (int64_t j = 0; j < cols; ++j) nan |= is_nan_bits(row[j]);
      if (nan)
        for (int64_t j = 0; j < cols; ++j)
          if (is_nan_bits(row[j])) {
            bad.report(r, static_cast<size_t>(j));
            break;
          }
    }
  });
  if (bad.any()) fail(kNonFinite, "scores contain NaN at " + where(bad.row, bad.col));
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  void score(const MatrixView& w, const ScoreParams& sp, float* scores) override {
    check_score_params(sp, static_cast<size_t>(w.rows), static_cast<size_t>(w.cols));
    FirstBad bad;
    size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
    parallel_for(rows, balanced_grain(rows, 8), [&](size_t, size_t b, size_t e) {
      for (size_t r = b; r < e; ++r) {
        size_t j = score_row(w.data, w.dtype, r * cols, cols, sp, scores + r * cols);
        if (j != cols) bad.report(r, j);
      }
    });
    if (bad.any()) fail(kNonFinite, "weights contain a non-finite value at " + where(bad.row, bad.col));
  }

  void select(const float* scores, int64_t rows, int64_t cols, const Selection& sel, MaskOut out) override {
    check_selection(sel);
    check_scores_not_nan(scores, rows, cols);
    if (sel.nm() || sel.granularity == Granularity::Row) {
      select_rows(rows, cols, sel, out, [&](size_t r, float*) { return scores + r * static_cast<size_t>(cols); });
      return;
    }
    std::vector<ScoreBlock> blocks{{scores, static_cast<size_t>(rows * cols), out.bits, out.pruned_per_row,
                                    static_cast<size_t>(cols)}};
    select_k_smallest(blocks, prune_count(sel.sparsity, static_cast<size_t>(rows * cols)));
  }

  void select_global(std::vector<GlobalItem>& items, double sparsity) override {
    Selection sel;
    sel.sparsity = sparsity;
    check_selection(sel);
    std::vector<ScoreBlock> blocks;
    size_t total = 0;
    for (auto& it : items) {
      check_scores_not_nan(it.scores, it.rows, it.cols);
      blocks.push_back({it.scores, static_cast<size_t>(it.rows * it.cols), it.out.bits, it.out.pruned_per_row,
                        static_cast<size_t>(it.cols)});
      total += static_cast<size_t>(it.rows * it.cols);
    }
    select_k_smallest(blocks, prune_count(sparsity, total));
  }

  void apply_mask(const MatrixView& w, const uint8_t* bits, uint32_t* pruned_per_row) override {
    size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
    parallel_for(rows, balanced_grain(rows, 8), [&](size_t, size_t b, size_t e) {
      for (size_t r = b; r < e; ++r) {
        size_t p = apply_mask_range(w.data, w.dtype, r * cols, cols, bits);
        if (pruned_per_row) pruned_per_row[r] = static_cast<uint32_t>(p);
      }
    });
  }

  void prune(const MatrixView& w, const ScoreParams& sp, const Selection& sel, MaskOut out) override {
    check_selection(sel);
    check_score_params(sp, static_cast<size_t>(w.rows), static_cast<size_t>(w.cols));
    size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
    if (!sel.nm() && sel.granularity == Granularity::Matrix) {
      // A matrix-wide threshold needs every score: materialize them.
      std::vector<float> scores(rows * cols);
      score(w, sp, scores.data());
      select(scores.data(), w.rows, w.cols, sel, out);
    } else {
      // Score and select row by row in thread-local scratch; W is untouched until
      // every row has been checked, so a NaN leaves it as it was.
      FirstBad bad;
      select_rows(w.rows, w.cols, sel, out, [&](size_t r, float* buf) -> const float* {
        size_t j = score_row(w.data, w.dtype, r * cols, cols, sp, buf);
        if (j != cols) bad.report(r, j);
        return buf;
      }, /*nonneg=*/true);
      if (bad.any()) fail(kNonFinite, "weights contain a non-finite value at " + where(bad.row, bad.col));
    }
    apply_mask(w, out.bits, nullptr);
  }

  void column_stats(const float* x, int64_t rows, int64_t cols, ColumnStatsAcc& acc) override {
    size_t c = static_cast<size_t>(cols);
    std::vector<double> s(c), q(c), ex(acc.exceed ? c : 0);
    FirstBad bad;
    // Fixed column blocks of 64: each thread streams its columns over all rows.
    parallel_for(c, 64, [&](size_t, size_t b, size_t e) {
      size_t i = column_stats_range(x, rows, cols, static_cast<int64_t>(b), static_cast<int64_t>(e), s.data(), q.data(),
                                    acc.exceed ? ex.data() : nullptr, static_cast<float>(acc.threshold));
      if (i != SIZE_MAX) bad.report(i / c, i % c);
    });
    if (bad.any()) fail(kNonFinite, "activations contain a non-finite value at " + where(bad.row, bad.col));
    for (size_t j = 0; j < c; ++j) {
      acc.sum[j] += s[j];
      acc.sum_sq[j] += q[j];
      if (acc.exceed) acc.exceed[j] += ex[j];
    }
  }

  void hessian_add(const float* x, int64_t rows, int64_t cols, HessianSum s) override {
    const size_t r = static_cast<size_t>(rows), c = static_cast<size_t>(cols);
    const size_t bad = first_nonfinite(x, r, c);
    if (bad != SIZE_MAX)
      fail(kNonFinite, "activations contain a non-finite value at " + where(static_cast<int64_t>(bad / c),
                                                                             static_cast<int64_t>(bad % c)) +
                           " (the Hessian was left unchanged)");
    if (s.f64)
      accumulate_xtx(x, r, c, static_cast<double*>(s.data));
    else
      accumulate_xtx(x, r, c, static_cast<float*>(s.data));
  }

  void sparsegpt(const MatrixView& w, HessianSum s, double count, const SparseGptParams& p, MaskOut out) override {
    sparsegpt_prune(w, s.data, s.f64, count, p, out);
  }

 private:
  // Row-wise selection (per-row k, or N:M) over the pool; row_scores(r, buf) gives
  // row r's scores, computing them into buf (cols floats) when needed.
  // nonneg: the scores are computed ones (|W|^p a^q), so never negative or -0.
  template <typename RowScores>
  void select_rows(int64_t rows_i, int64_t cols_i, const Selection& sel, MaskOut out, RowScores row_scores, bool nonneg = false) {
    size_t rows = static_cast<size_t>(rows_i), cols = static_cast<size_t>(cols_i);
    size_t k = sel.nm() ? 0 : prune_count(sel.sparsity, cols);
    size_t grain = balanced_grain(rows, 4, byte_aligned_row_multiple(cols));
    parallel_for(rows, grain, [&](size_t, size_t b, size_t e) {
      RowScratch& s = tls_scratch;
      s.reserve(cols);
      s.bracket.valid = false;  // brackets are reused within a chunk of one matrix only
      for (size_t r = b; r < e; ++r) {
        const float* sc = row_scores(r, s.scores.data());
        size_t pruned;
        if (sel.nm()) {
          pruned = select_row_nm(sc, cols, sel.n, sel.m, out.bits, r * cols);
        } else {
          select_row_k(sc, cols, k, s, out.bits, r * cols, nonneg);
          pruned = k;
        }
        if (out.pruned_per_row) out.pruned_per_row[r] = static_cast<uint32_t>(pruned);
      }
    });
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace shears
