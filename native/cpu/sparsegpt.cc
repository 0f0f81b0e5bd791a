#include "cpu/sparsegpt.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/bitmask.h"
#include "cpu/linalg.h"
#include "cpu/select.h"

namespace shears {

namespace {

// double -> float rounded to odd: correct as the first step of a double rounding to a
// narrower format (f16, bf16) followed by round-to-nearest-even.
inline float to_f32_round_odd(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || !std::isfinite(f)) return f;
  uint32_t u = f32_bits(f);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) --u;  // rounded away: step back toward zero
  return bits_f32(u | 1u);
}

inline void store(void* data, DType t, size_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(data)[i] = static_cast<float>(v); break;
    case DType::F16: static_cast<uint16_t*>(data)[i] = f32_to_f16(to_f32_round_odd(v)); break;
    case DType::BF16: static_cast<uint16_t*>(data)[i] = f32_to_bf16(to_f32_round_odd(v)); break;
  }
}

// Whether v, rounded to dtype t, is finite there (reconstruction can push a weight
// past the f16 range).
inline bool fits(double v, DType t) {
  switch (t) {
    case DType::F32: return std::isfinite(static_cast<float>(v));
    case DType::F16: return (f32_to_f16(to_f32_round_odd(v)) & 0x7c00u) != 0x7c00u;
    case DType::BF16: return (f32_to_bf16(to_f32_round_odd(v)) & 0x7f80u) != 0x7f80u;
  }
  return false;
}

// Lowest (row, col) flat index reported by any thread.
struct FirstIndex {
  std::atomic<size_t> v{SIZE_MAX};
  void report(size_t idx) {
    size_t cur = v.load();
    while (idx < cur && !v.compare_exchange_weak(cur, idx)) {
    }
  }
};

std::string at(size_t idx, size_t cols) {
  return "row " + std::to_string(idx / cols) + ", column " + std::to_string(idx % cols);
}

void check_params(const SparseGptParams& p, size_t cols) {
  if (p.keep_bits) {
    // A given mask: nothing is selected, so the selection parameters play no part.
  } else if (p.m > 0) {
    if (p.n < 1 || p.m > 32 || p.n >= p.m)
      fail(kRangeError, "N:M pattern needs 1 <= N < M <= 32, got " + std::to_string(p.n) + ":" + std::to_string(p.m));
    if (p.block_size % static_cast<size_t>(p.m) != 0)
      fail(kRangeError, "blockSize " + std::to_string(p.block_size) + " must be a multiple of M = " + std::to_string(p.m));
  } else if (!(p.sparsity >= 0.0 && p.sparsity < 1.0)) {
    fail(kRangeError, "sparsity must be in [0, 1), got " + std::to_string(p.sparsity));
  }
  if (p.block_size < 1) fail(kRangeError, "blockSize must be >= 1");
  if (!(p.percdamp >= 0.0) || !std::isfinite(p.percdamp))
    fail(kRangeError, "percdamp must be a finite number >= 0, got " + std::to_string(p.percdamp));
}

// H = 2 S / n with dead inputs set to 1 and damping added; dead[j] marks dead inputs.
std::vector<double> damped_hessian(const void* s, bool s_f64, double count, size_t n, double percdamp,
                                   std::vector<uint8_t>& dead) {
  std::vector<double> h(n * n);
  const double scale = 2.0 / count;
  FirstIndex bad;
  parallel_for(n, balanced_grain(n, 16), [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      double* hr = h.data() + i * n;
      if (s_f64) {
        const double* sr = static_cast<const double*>(s) + i * n;
        for (size_t j = 0; j < n; ++j) hr[j] = scale * sr[j];
      } else {
        const float* sr = static_cast<const float*>(s) + i * n;
        for (size_t j = 0; j < n; ++j) hr[j] = scale * static_cast<double>(sr[j]);
      }
      for (size_t j = 0; j < n; ++j)
        if (!std::isfinite(hr[j])) {
          bad.report(i * n + j);
          break;
        }
    }
  });
  if (bad.v.load() != SIZE_MAX)
    fail(kNonFinite, "the Hessian statistic (X^T X) is not finite at " + at(bad.v.load(), n) +
                         " (non-finite or overflowing activations; float64 accumulation avoids overflow)");
  dead.assign(n, 0);
  double trace = 0.0;
  for (size_t j = 0; j < n; ++j) {
    double& d = h[j * n + j];
    if (d == 0.0) {
      d = 1.0;
      dead[j] = 1;
    }
    trace += d;
  }
  const double damp = percdamp * trace / static_cast<double>(n);
  for (size_t j = 0; j < n; ++j) h[j * n + j] += damp;
  return h;
}

// Marks the k lowest scores of the tile (ties: lower flat index first).
void select_tile(const std::vector<double>& sc, size_t k, std::vector<uint8_t>& flag) {
  std::fill(flag.begin(), flag.end(), 0);
  if (k == 0) return;
  std::vector<size_t> idx(sc.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  auto less = [&](size_t a, size_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && a < b); };
  if (k < idx.size()) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), less);
  for (size_t t = 0; t < std::min(k, idx.size()); ++t) flag[idx[t]] = 1;
}

// In one row segment of len scores, marks the `drop` lowest (ties: lower index first).
void select_lowest(const double* sc, size_t len, size_t drop, uint8_t* flag) {
  for (size_t i = 0; i < len; ++i) {
    size_t rank = 0;  // entries pruned before this one would be
    for (size_t j = 0; j < len; ++j) rank += (sc[j] < sc[i]) | ((sc[j] == sc[i]) & (j < i));
    flag[i] = rank < drop;
  }
}

// The state of one run: W (float64 scratch), U = upper Cholesky factor of H^-1,
// pruned flags, and the current block's errors E [rows, block columns].
struct Run {
  const SparseGptParams& p;
  size_t rows, n;
  std::vector<double> W, U, E;
  std::vector<uint8_t> pruned;
  size_t row_grain;
  bool fixed() const { return p.keep_bits != nullptr; }  // pruned flags given, not selected

  double score(size_t r, size_t j) const {  // w^2 / U_jj^2 at absolute column j
    const double v = W[r * n + j], d = U[j * n + j];
    return v * v / (d * d);
  }
};

// W as float64; a non-finite weight is an error naming its position.
std::vector<double> load_weights(const MatrixView& w) {
  const size_t rows = static_cast<size_t>(w.rows), n = static_cast<size_t>(w.cols);
  std::vector<double> W(rows * n);
  FirstIndex bad;
  parallel_for(rows, balanced_grain(rows, 8), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (size_t j = 0; j < n; ++j) {
        const float v = load_f32(w.data, w.dtype, r * n + j);
        if (!std::isfinite(v)) {
          bad.report(r * n + j);
          return;
        }
        W[r * n + j] = v;
      }
  });
  if (bad.v.load() != SIZE_MAX) fail(kNonFinite, "weights contain a non-finite value at " + at(bad.v.load(), n));
  return W;
}

// Unstructured, block selection: the lowest scores of the whole tile [rows, i1:i2).
void mark_tile(Run& run, size_t i1, size_t i2) {
  const size_t c = i2 - i1;
  std::vector<double> sc(run.rows * c);
  std::vector<uint8_t> flag(run.rows * c);
  parallel_for(run.rows, run.row_grain, [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (size_t j = 0; j < c; ++j) sc[r * c + j] = run.score(r, i1 + j);
  });
  select_tile(sc, prune_count(run.p.sparsity, run.rows * c), flag);
  for (size_t r = 0; r < run.rows; ++r)
    std::copy(flag.begin() + static_cast<std::ptrdiff_t>(r * c), flag.begin() + static_cast<std::ptrdiff_t>((r + 1) * c),
              run.pruned.begin() + static_cast<std::ptrdiff_t>(r * run.n + i1));
}

// Unstructured, row selection: the lowest scores of row r inside the block.
void mark_row(Run& run, size_t r, size_t i1, size_t i2, std::vector<double>& sc, std::vector<size_t>& idx) {
  const size_t c = i2 - i1, k = prune_count(run.p.sparsity, c);
  sc.resize(c);
  idx.resize(c);
  for (size_t j = 0; j < c; ++j) sc[j] = run.score(r, i1 + j);
  std::iota(idx.begin(), idx.end(), size_t{0});
  auto less = [&](size_t a, size_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && a < b); };
  if (k < c) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), less);
  uint8_t* pr = run.pruned.data() + r * run.n + i1;
  std::fill(pr, pr + c, 0);
  for (size_t t = 0; t < std::min(k, c); ++t) pr[idx[t]] = 1;
}

// The column-by-column OBS step of one block, rows in parallel (rows are independent
// given U). Fills E; returns whether any error is non-zero.
bool prune_block_rows(Run& run, size_t i1, size_t i2) {
  const size_t c = i2 - i1, n = run.n;
  const bool nm = run.p.m > 0;
  const size_t M = static_cast<size_t>(run.p.m), N = static_cast<size_t>(run.p.n);
  std::atomic<bool> any_error{false};
  parallel_for(run.rows, run.row_grain, [&](size_t, size_t b, size_t e) {
    std::vector<double> sc;
    std::vector<size_t> idx;
    bool err_seen = false;
    for (size_t r = b; r < e; ++r) {
      double* wr = run.W.data() + r * n;
      uint8_t* pr = run.pruned.data() + r * n;
      double* er = run.E.data() + r * c;
      if (!run.fixed() && !nm && run.p.row_selection) mark_row(run, r, i1, i2, sc, idx);
      for (size_t i = 0; i < c; ++i) {
        const size_t ci = i1 + i;
        const double* ur = run.U.data() + ci * n;
        if (!run.fixed() && nm && ci % M == 0) {
          // N:M group chosen from the current (already updated) values.
          const size_t len = std::min(M, i2 - ci);
          double gs[32];
          for (size_t g = 0; g < len; ++g) gs[g] = run.score(r, ci + g);
          select_lowest(gs, len, len > N ? len - N : 0, pr + ci);
        }
        const double wv = wr[ci];
        const double q = pr[ci] ? 0.0 : wv;
        const double err = (wv - q) / ur[ci];
        er[i] = err;
        if (err != 0.0) {
          err_seen = true;
          for (size_t j = ci + 1; j < i2; ++j) wr[j] -= err * ur[j];
        }
        wr[ci] = q;
      }
    }
    if (err_seen) any_error.store(true);
  });
  return any_error.load();
}

// Every new weight must be representable in W's dtype (checked before writing).
void check_fits(const Run& run, DType t) {
  FirstIndex bad;
  parallel_for(run.rows, balanced_grain(run.rows, 8), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r)
      for (size_t j = 0; j < run.n; ++j)
        if (!fits(run.W[r * run.n + j], t)) {
          bad.report(r * run.n + j);
          return;
        }
  });
  const size_t i = bad.v.load();
  if (i != SIZE_MAX)
    fail(kNonFinite, "the reconstructed weight at " + at(i, run.n) + " (" + std::to_string(run.W[i]) + ") overflows " +
                         dtype_name(t) + "; W was left unchanged (a larger percdamp damps the updates)");
}

// Weights, mask bits and per-row counts (row chunks start on mask byte boundaries).
void write_back(const Run& run, const MatrixView& w, MaskOut out) {
  const size_t n = run.n;
  parallel_for(run.rows, balanced_grain(run.rows, 8, byte_aligned_row_multiple(n)), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const uint8_t* pr = run.pruned.data() + r * n;
      size_t cnt = 0;
      for (size_t j = 0; j < n; ++j) {
        store(w.data, w.dtype, r * n + j, run.W[r * n + j]);
        cnt += pr[j];
      }
      write_bits(out.bits, r * n, n, [&](size_t j) { return pr[j] == 0; });
      if (out.pruned_per_row) out.pruned_per_row[r] = static_cast<uint32_t>(cnt);
    }
  });
}

}  // namespace

void sparsegpt_prune(const MatrixView& w, const void* s, bool s_f64, double count, const SparseGptParams& p,
                     MaskOut out) {
  const size_t rows = static_cast<size_t>(w.rows), n = static_cast<size_t>(w.cols);
  check_params(p, n);
  if (!(count > 0.0)) fail(kRangeError, "the Hessian has no calibration rows (count 0): add activations first");

  Run run{p, rows, n, load_weights(w), {}, {}, {}, 0};
  std::vector<uint8_t> dead;
  run.U = damped_hessian(s, s_f64, count, n, p.percdamp, dead);
  const size_t bad = linalg::upper_cholesky_of_inverse(run.U.data(), n);
  if (bad < n)
    fail(kNotPositiveDefinite, "the Hessian is not positive definite even after damping (percdamp " +
                                   std::to_string(p.percdamp) + "), at input column " + std::to_string(bad) +
                                   "; use a larger percdamp or more calibration rows");
  // The blocks work on scratch copies; W and the mask are written only at the end (the
  // given mask is copied first, so it may be the output mask's own bytes).
  run.pruned.assign(rows * n, 0);
  if (run.fixed())
    for (size_t i = 0; i < rows * n; ++i) run.pruned[i] = !get_bit(p.keep_bits, i);
  // Dead inputs (never active in calibration) are zeroed by the method. A given mask
  // decides alone: only its pruned weights there are zeroed; its kept ones stay as they
  // are (no calibration row constrains them, and U couples them to no other column).
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < n; ++j)
      if (dead[j] && (!run.fixed() || run.pruned[r * n + j])) run.W[r * n + j] = 0.0;

  run.E.resize(rows * std::min(p.block_size, n));
  run.row_grain = balanced_grain(rows, 4);
  for (size_t i1 = 0; i1 < n; i1 += p.block_size) {
    const size_t i2 = std::min(n, i1 + p.block_size), c = i2 - i1;
    if (!run.fixed() && p.m == 0 && !p.row_selection) mark_tile(run, i1, i2);
    const bool any_error = prune_block_rows(run, i1, i2);
    // Lazy batch update of all later columns: W[:, i2:] -= E U[i1:i2, i2:].
    if (i2 < n && any_error)
      linalg::gemm_sub(rows, n - i2, c, run.E.data(), c, run.U.data() + i1 * n + i2, n, run.W.data() + i2, n);
  }
  // Dead inputs were zeroed by the method: they are pruned weights, whether or not the
  // selection also picked them (so the mask and the counts match the zeros written).
  // A given mask is returned exactly as given.
  if (!run.fixed())
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < n; ++j)
        if (dead[j]) run.pruned[r * n + j] = 1;
  check_fits(run, w.dtype);
  write_back(run, w, out);
}

}  // namespace shears
