// The compute interface every backend implements. The CPU backend (native/cpu/) is
// the oracle; the CUDA backend (native/cuda/) must give the same results (bit for
// bit for masks, within float tolerance for statistics). Inputs and outputs are host
// memory owned by JavaScript; a device backend copies in and out itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/matrix_view.h"

namespace shears {

// score_ij = |W_ij|^p * a_j^q   (a: per-input-column statistic, may be null when q == 0).
struct ScoreParams {
  double p = 1.0;
  double q = 0.0;
  const float* act = nullptr;  // length cols
  // Per-weight term (rows x cols, e.g. gradient moments): with it the score is
  // |W|^p * (act_scale * act^q + per_weight_scale * |per_weight|^per_weight_exp).
  const float* per_weight = nullptr;
  double per_weight_exp = 1.0, per_weight_scale = 1.0, act_scale = 1.0;
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

// SparseGPT's input statistic S = X^T X: cols x cols, symmetric, full storage, in
// float64 (f64) or float32.
struct HessianSum {
  void* data = nullptr;
  bool f64 = true;
};

// SparseGPT parameters (semantics in native/cpu/sparsegpt.h).
struct SparseGptParams {
  double sparsity = 0.0;       // unstructured fraction pruned
  int n = 0, m = 0;            // N:M (keep at most n of m) when m > 0
  size_t block_size = 128;
  double percdamp = 0.01;
  bool row_selection = false;  // unstructured: per-row selection inside each block
  // Repair with a given mask: when set, the weights to prune are not chosen; this packed
  // keep-mask (MaskOut's layout, rows x cols; bit 0 = pruned) decides, and sparsity,
  // n/m and row_selection are ignored. The OBS sequence is the same.
  const uint8_t* keep_bits = nullptr;
};

// Error code for a Hessian that is not positive definite after damping.
inline constexpr const char* kNotPositiveDefinite = "E_NOT_PD";

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

  // S += X^T X for x [rows, cols] float32. Throws E_NONFINITE (naming row and column)
  // on a non-finite x, with S unchanged.
  virtual void hessian_add(const float* x, int64_t rows, int64_t cols, HessianSum s) = 0;

  // SparseGPT on w in place given S over `count` rows; every check (finite W and S,
  // positive definite H) happens before w is written.
  virtual void sparsegpt(const MatrixView& w, HessianSum s, double count, const SparseGptParams& p, MaskOut out) = 0;
};

Backend& cpu_backend();
// The CUDA backend when the addon was built with it and a device is present, else null.
Backend* cuda_backend();
// The CUDA device in use, or why there is none ("not compiled", the CUDA error...).
std::string cuda_status();
// What every `backend` option means, for the kernels and the forward pass alike:
// "cpu"; "cuda" (the CUDA build with a device that answers, else E_BACKEND naming why);
// "auto" (cuda when available, else cpu). Anything else is E_BACKEND.
enum class BackendKind : int { Cpu = 0, Cuda = 1 };
BackendKind resolve_backend(const std::string& name);
// The backend an option names (resolve_backend, then the object).
Backend& backend_by_name(const std::string& name);
// The option's value when a call gives none.
inline constexpr const char* kDefaultBackend = "auto";

}  // namespace shears
