// The compute interface every backend implements. The CPU backend (native/cpu/) is
// the oracle; the CUDA backend (native/cuda/) must give the same results (bit for
// bit for masks, within float tolerance for statistics). Inputs and outputs are host
// memory owned by JavaScript; a device backend copies in and out itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/js_args.h"

namespace shears {

// score_ij = |W_ij|^p * a_j^q   (a: per-input-column statistic, may be null when q == 0).
struct ScoreParams {
  double p = 1.0;
  double q = 0.0;
  const float* act = nullptr;  // length cols
};

// How weights are compared when choosing which to prune.
enum class Granularity : int { Row = 0, Matrix = 1 };

struct Selection {
  Granularity granularity = Granularity::Row;
  double sparsity = 0.0;  // unstructured: fraction pruned per row / per matrix
  int n = 0, m = 0;       // N:M when m > 0: keep at most n of every m along a row
  bool nm() const { return m > 0; }
};

// Output of a selection: packed keep-mask (bit = 1: weight kept), row-major over the
// whole matrix, bit i in byte i/8 at position i%8; and the number pruned per row.
struct MaskOut {
  uint8_t* bits = nullptr;          // ceil(rows*cols/8) bytes
  uint32_t* pruned_per_row = nullptr;  // rows
};

// One matrix in a global selection.
struct GlobalItem {
  const float* scores;
  int64_t rows, cols;
  MaskOut out;
};

// Per-column activation statistics accumulated over batches of rows.
struct ColumnStatsAcc {
  double* sum;        // cols
  double* sum_sq;     // cols
  double* exceed;     // cols: rows where |x| > threshold (null: not counted)
  double threshold;   // used when exceed != null
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // scores[r*cols+c] = |W|^p * a^q as float32. Throws E_NONFINITE on NaN/Inf in W or a.
  virtual void score(const MatrixView& w, const ScoreParams& sp, float* scores) = 0;

  // Chooses the weights to prune from precomputed scores.
  virtual void select(const float* scores, int64_t rows, int64_t cols, const Selection& sel, MaskOut out) = 0;

  // One threshold across several matrices: floor(sparsity * total) pruned in all.
  virtual void select_global(std::vector<GlobalItem>& items, double sparsity) = 0;

  // Zeroes the weights whose mask bit is 0; fills pruned_per_row if not null.
  virtual void apply_mask(const MatrixView& w, const uint8_t* bits, uint32_t* pruned_per_row) = 0;

  // Fused score + select + apply on one matrix (no full score matrix is kept).
  // W is modified only after every row was scored, so a non-finite input leaves it intact.
  virtual void prune(const MatrixView& w, const ScoreParams& sp, const Selection& sel, MaskOut out) = 0;

  // Adds rows of x [rows, cols] (float32) to the accumulators.
  virtual void column_stats(const float* x, int64_t rows, int64_t cols, ColumnStatsAcc& acc) = 0;
};

Backend& cpu_backend();
// The CUDA backend when the addon was built with it and a device is present, else null.
Backend* cuda_backend();
// The CUDA device in use, or why there is none ("not compiled", the CUDA error...).
std::string cuda_status();
// "cpu", "cuda" or "auto" (cuda when available). Throws E_BACKEND for an unavailable one.
Backend& backend_by_name(const std::string& name);

}  // namespace shears
