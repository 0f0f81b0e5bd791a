// The `formula` method's score: a user-written expression over named per-weight inputs,
// compiled by lib/formula/compile.ts to postfix bytecode and evaluated here, one row of
// the matrix at a time (rows in parallel; every value is computed from its own row's
// inputs in a fixed order, so the bits do not depend on the thread count).
//
// Bytecode: pairs (op, arg). kVar pushes input `arg`, kConst pushes consts[arg]; the
// others pop their operands and push the result. Values are float64 while evaluating;
// the score is rounded to float32 once at the end. docs/formula.md states the semantics:
//   a / b   a / b, with |b| < 1e-12 replaced by +-1e-12 (sign of b, + for 0)
//   a ^ b   |a|^b; 0^b = 0 for b > 0, 1 for b = 0, (1e-30)^b for b < 0
//   sqrt(a) sqrt(|a|)   log(a) ln(max(|a|, 1e-30))   exp(a) exp(min(a, 80))
//   square, abs, sign (-1, 0, 1), min, max, unary minus: as usual
// A score that is not finite as a float32 (an overflow, inf - inf) is counted, not kept:
// the caller refuses the matrix (no NaN ever reaches the selection).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/matrix_view.h"

namespace shears {

// Opcodes and inputs: the numbering lib/formula/compile.ts uses (keep both in step).
enum FormulaOp : int32_t {
  kFormulaVar = 0,
  kFormulaConst = 1,
  kFormulaAdd = 2,
  kFormulaSub = 3,
  kFormulaMul = 4,
  kFormulaDiv = 5,
  kFormulaPow = 6,
  kFormulaNeg = 7,
  kFormulaAbs = 8,
  kFormulaSqrt = 9,
  kFormulaLog = 10,
  kFormulaExp = 11,
  kFormulaSquare = 12,
  kFormulaSign = 13,
  kFormulaMin = 14,
  kFormulaMax = 15,
  kFormulaOpCount = 16,
};

enum FormulaInput : int32_t {
  kInW = 0,       // the weight
  kInXnorm = 1,   // ||X_j||_2 over the calibration tokens (float32, as Wanda's)
  kInXmean = 2,   // mean of X_j
  kInXvar = 3,    // variance of X_j (population; 0 when negative by rounding)
  kInGrad = 4,    // mean gradient of the weight over the calibration sequences
  kInFisher = 5,  // mean squared gradient
  kInHdiag = 6,   // [H^-1]_jj of the damped H = 2 X^T X / n (formula_hdiag)
  kInBias = 7,    // the output row's bias (0 without one)
  kInRowsum = 8,  // sum_k |W_ik|
  kInColsum = 9,  // sum_k |W_kj|
  kFormulaInputCount = 10,
};

// The deepest stack a program may need (the compiler refuses deeper formulas).
inline constexpr size_t kFormulaMaxStack = 64;

struct FormulaProgram {
  const int32_t* code = nullptr;  // pairs
  size_t length = 0;              // number of pairs
  const double* consts = nullptr;
  size_t n_consts = 0;
};

// What the program may read; a pointer is null when the run did not gather it (the
// program must then not use that input: checked before any work).
struct FormulaInputs {
  MatrixView w;
  const double* col_sum = nullptr;     // per input column, sum of X_j (xmean)
  const double* col_sum_sq = nullptr;  // per input column, sum of X_j^2 (xnorm, xvar)
  double tokens = 0;                   // rows of X summed into them
  const float* hdiag = nullptr;        // per input column
  const float* grad_sum = nullptr;     // per weight, times grad_scale
  double grad_scale = 1;
  const float* fisher_sum = nullptr;   // per weight, times fisher_scale
  double fisher_scale = 1;
  const void* bias = nullptr;          // per output row, in bias_dtype; null: zeros
  DType bias_dtype = DType::F32;
};

struct FormulaResult {
  size_t non_finite = 0;        // scores that are not finite as float32 (left as they came out)
  size_t first = SIZE_MAX;      // flat index of the first of them
};

// Checks the program (valid ops and indices, stack depth, one value at the end) and the
// inputs it reads (present); throws shears::Error (E_RANGE). Cheap: run it before queuing work.
void formula_check(const FormulaProgram& prog, const FormulaInputs& in);

// out[i * cols + j] = score of W_ij. Call formula_check first. Throws E_NONFINITE for a non-finite W.
FormulaResult formula_eval(const FormulaProgram& prog, const FormulaInputs& in, float* out);

// hdiag: out[j] = [H^-1]_jj for H = 2 S / n + percdamp * mean(diag) * I, dead inputs
// (H_jj = 0) set to 1 first, as SparseGPT does; S = X^T X (cols x cols, f64 or f32).
// Throws E_NONFINITE for a non-finite S, E_RANGE when H is not positive definite.
void formula_hdiag(const void* s, bool s_f64, size_t cols, double count, double percdamp, float* out);

}  // namespace shears
