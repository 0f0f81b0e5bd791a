#include "cpu/formula_eval.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace shears {
namespace {

const char* const kInputNames[kFormulaInputCount] = {"W", "xnorm", "xmean", "xvar", "grad", "fisher", "hdiag", "bias", "rowsum", "colsum"};

// Stack effect of an op: values popped (the result is pushed).
int arity(int32_t op) {
  switch (op) {
    case kFormulaVar:
    case kFormulaConst:
      return 0;
    case kFormulaNeg:
    case kFormulaAbs:
    case kFormulaSqrt:
    case kFormulaLog:
    case kFormulaExp:
    case kFormulaSquare:
    case kFormulaSign:
      return 1;
    default:
      return 2;
  }
}

bool uses(const FormulaProgram& prog, int32_t input) {
  for (size_t i = 0; i < prog.length; ++i)
    if (prog.code[2 * i] == kFormulaVar && prog.code[2 * i + 1] == input) return true;
  return false;
}

// The deepest the stack gets (formula_check has refused malformed programs).
size_t program_depth(const FormulaProgram& prog) {
  size_t depth = 0, deepest = 0;
  for (size_t i = 0; i < prog.length; ++i) {
    depth = depth - static_cast<size_t>(arity(prog.code[2 * i])) + 1;
    deepest = std::max(deepest, depth);
  }
  return deepest;
}

bool finite_float(double v) { return std::isfinite(static_cast<float>(v)); }

double protected_div(double a, double b) {
  if (std::fabs(b) < 1e-12) b = b < 0 ? -1e-12 : 1e-12;
  return a / b;
}

double protected_pow(double a, double b) {
  a = std::fabs(a);
  if (a == 0.0) return b > 0 ? 0.0 : b == 0 ? 1.0 : std::pow(1e-30, b);
  if (b == 1.0) return a;
  if (b == 2.0) return a * a;
  if (b == 0.5) return std::sqrt(a);
  return std::pow(a, b);
}

double sign_of(double a) { return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0; }

// Column inputs the program reads, once per matrix (float64, cols each).
struct Columns {
  std::vector<double> xnorm, xmean, xvar, hdiag, colsum;
};

Columns column_inputs(const FormulaProgram& prog, const FormulaInputs& in) {
  const size_t cols = static_cast<size_t>(in.w.cols), rows = static_cast<size_t>(in.w.rows);
  Columns c;
  if (uses(prog, kInXnorm)) {
    c.xnorm.resize(cols);
    // float32 like Wanda's ||X_j|| (columnNorms), so abs(W) * xnorm has Wanda's bits.
    for (size_t j = 0; j < cols; ++j) c.xnorm[j] = static_cast<float>(std::sqrt(in.col_sum_sq[j]));
  }
  const double n = in.tokens;
  if (uses(prog, kInXmean) || uses(prog, kInXvar)) {
    c.xmean.resize(cols);
    c.xvar.resize(cols);
    for (size_t j = 0; j < cols; ++j) {
      const double mean = n > 0 ? in.col_sum[j] / n : 0.0;
      c.xmean[j] = mean;
      c.xvar[j] = n > 0 ? std::max(0.0, in.col_sum_sq[j] / n - mean * mean) : 0.0;
    }
  }
  if (uses(prog, kInHdiag)) c.hdiag.assign(in.hdiag, in.hdiag + cols);
  if (uses(prog, kInColsum)) {
    // Each column sums its rows in row order (chunks of columns in parallel).
    c.colsum.assign(cols, 0.0);
    parallel_for(cols, 64, [&](size_t, size_t b, size_t e) {
      std::vector<float> row(e - b);
      for (size_t i = 0; i < rows; ++i) {
        to_f32(in.w.data, in.w.dtype, i * cols + b, e - b, row.data());
        for (size_t j = b; j < e; ++j) c.colsum[j] += std::fabs(static_cast<double>(row[j - b]));
      }
    });
  }
  return c;
}

// Non-finite weights are refused (a score of them would mean nothing), as the score kernel does.
void check_weights(const MatrixView& w) {
  const size_t cols = static_cast<size_t>(w.cols), rows = static_cast<size_t>(w.rows);
  std::vector<size_t> bad(chunk_count(rows, 16), SIZE_MAX);
  parallel_for(rows, 16, [&](size_t c, size_t b, size_t e) {
    std::vector<float> row(cols);
    for (size_t i = b; i < e && bad[c] == SIZE_MAX; ++i) {
      to_f32(w.data, w.dtype, i * cols, cols, row.data());
      for (size_t j = 0; j < cols; ++j)
        if (!std::isfinite(row[j])) {
          bad[c] = i * cols + j;
          break;
        }
    }
  });
  for (size_t v : bad)
    if (v != SIZE_MAX)
      fail(kNonFinite, "W is not finite at row " + std::to_string(v / cols) + ", column " + std::to_string(v % cols));
}

}  // namespace

void formula_check(const FormulaProgram& prog, const FormulaInputs& in) {
  if (prog.length == 0) fail(kRangeError, "the formula program is empty");
  size_t depth = 0;
  for (size_t i = 0; i < prog.length; ++i) {
    const int32_t op = prog.code[2 * i], arg = prog.code[2 * i + 1];
    if (op < 0 || op >= kFormulaOpCount) fail(kRangeError, "formula program: unknown op " + std::to_string(op) + " at " + std::to_string(i));
    if (op == kFormulaVar && (arg < 0 || arg >= kFormulaInputCount))
      fail(kRangeError, "formula program: unknown input " + std::to_string(arg) + " at " + std::to_string(i));
    if (op == kFormulaConst && (arg < 0 || static_cast<size_t>(arg) >= prog.n_consts))
      fail(kRangeError, "formula program: constant " + std::to_string(arg) + " out of range at " + std::to_string(i));
    const size_t pops = static_cast<size_t>(arity(op));
    if (depth < pops) fail(kRangeError, "formula program: stack underflow at " + std::to_string(i));
    depth = depth - pops + 1;
    if (depth > kFormulaMaxStack) fail(kRangeError, "formula program: deeper than " + std::to_string(kFormulaMaxStack) + " values");
  }
  if (depth != 1) fail(kRangeError, "formula program leaves " + std::to_string(depth) + " values, not 1");
  for (size_t k = 0; k < prog.n_consts; ++k)
    if (!std::isfinite(prog.consts[k])) fail(kRangeError, "formula program: constant " + std::to_string(k) + " is not finite");
  auto need = [&](int32_t input, bool present) {
    if (uses(prog, input) && !present)
      fail(kRangeError, std::string("the formula reads ") + kInputNames[input] + ", which this run did not gather");
  };
  need(kInXnorm, in.col_sum_sq != nullptr);
  need(kInXmean, in.col_sum != nullptr && in.col_sum_sq != nullptr);
  need(kInXvar, in.col_sum != nullptr && in.col_sum_sq != nullptr);
  need(kInHdiag, in.hdiag != nullptr);
  need(kInGrad, in.grad_sum != nullptr);
  need(kInFisher, in.fisher_sum != nullptr);
}

FormulaResult formula_eval(const FormulaProgram& prog, const FormulaInputs& in, float* out) {
  const size_t cols = static_cast<size_t>(in.w.cols), rows = static_cast<size_t>(in.w.rows);
  check_weights(in.w);
  const Columns col = column_inputs(prog, in);
  // Rows are independent and the per-chunk counts add up in any order: a balanced grain
  // keeps the bits; each chunk holds only the stack depth the program needs.
  const size_t grain = balanced_grain(rows, 8), depth_needed = program_depth(prog);
  std::vector<FormulaResult> part(chunk_count(rows, grain));
  parallel_for(rows, grain, [&](size_t c, size_t b, size_t e) {
    std::vector<float> wf(cols);
    std::vector<double> w(cols), stack(depth_needed * cols);
    for (size_t i = b; i < e; ++i) {
      to_f32(in.w.data, in.w.dtype, i * cols, cols, wf.data());
      double rowsum = 0;
      for (size_t j = 0; j < cols; ++j) {
        w[j] = wf[j];
        rowsum += std::fabs(w[j]);
      }
      double bias = 0;
      if (in.bias) {
        float bv;
        to_f32(in.bias, in.bias_dtype, i, 1, &bv);
        bias = bv;
      }
      size_t depth = 0;
      for (size_t k = 0; k < prog.length; ++k) {
        const int32_t op = prog.code[2 * k], arg = prog.code[2 * k + 1];
        if (op == kFormulaVar || op == kFormulaConst) {
          double* t = stack.data() + depth * cols;
          ++depth;
          const double* src = nullptr;
          double scalar = 0, scale = 1;
          const float* per_weight = nullptr;
          if (op == kFormulaConst) scalar = prog.consts[arg];
          else
            switch (arg) {
              case kInW: src = w.data(); break;
              case kInXnorm: src = col.xnorm.data(); break;
              case kInXmean: src = col.xmean.data(); break;
              case kInXvar: src = col.xvar.data(); break;
              case kInHdiag: src = col.hdiag.data(); break;
              case kInColsum: src = col.colsum.data(); break;
              case kInGrad: per_weight = in.grad_sum + i * cols; scale = in.grad_scale; break;
              case kInFisher: per_weight = in.fisher_sum + i * cols; scale = in.fisher_scale; break;
              case kInBias: scalar = bias; break;
              default: scalar = rowsum; break;  // kInRowsum
            }
          if (src) std::copy(src, src + cols, t);
          else if (per_weight)
            for (size_t j = 0; j < cols; ++j) t[j] = static_cast<double>(per_weight[j]) * scale;
          else std::fill(t, t + cols, scalar);
          continue;
        }
        if (arity(op) == 1) {
          double* a = stack.data() + (depth - 1) * cols;
          switch (op) {
            case kFormulaNeg: for (size_t j = 0; j < cols; ++j) a[j] = -a[j]; break;
            case kFormulaAbs: for (size_t j = 0; j < cols; ++j) a[j] = std::fabs(a[j]); break;
            case kFormulaSqrt: for (size_t j = 0; j < cols; ++j) a[j] = std::sqrt(std::fabs(a[j])); break;
            case kFormulaLog: for (size_t j = 0; j < cols; ++j) a[j] = std::log(std::max(std::fabs(a[j]), 1e-30)); break;
            case kFormulaExp: for (size_t j = 0; j < cols; ++j) a[j] = std::exp(std::min(a[j], 80.0)); break;
            case kFormulaSquare: for (size_t j = 0; j < cols; ++j) a[j] = a[j] * a[j]; break;
            default: for (size_t j = 0; j < cols; ++j) a[j] = sign_of(a[j]); break;  // kFormulaSign
          }
          continue;
        }
        double* a = stack.data() + (depth - 2) * cols;
        const double* y = a + cols;
        --depth;
        switch (op) {
          case kFormulaAdd: for (size_t j = 0; j < cols; ++j) a[j] += y[j]; break;
          case kFormulaSub: for (size_t j = 0; j < cols; ++j) a[j] -= y[j]; break;
          case kFormulaMul: for (size_t j = 0; j < cols; ++j) a[j] *= y[j]; break;
          case kFormulaDiv: for (size_t j = 0; j < cols; ++j) a[j] = protected_div(a[j], y[j]); break;
          case kFormulaPow: for (size_t j = 0; j < cols; ++j) a[j] = protected_pow(a[j], y[j]); break;
          case kFormulaMin: for (size_t j = 0; j < cols; ++j) a[j] = std::min(a[j], y[j]); break;
          default: for (size_t j = 0; j < cols; ++j) a[j] = std::max(a[j], y[j]); break;  // kFormulaMax
        }
      }
      float* o = out + i * cols;
      for (size_t j = 0; j < cols; ++j) {
        o[j] = static_cast<float>(stack[j]);
        if (!finite_float(stack[j])) {
          if (part[c].non_finite++ == 0) part[c].first = i * cols + j;
        }
      }
    }
  });
  FormulaResult r;
  for (const FormulaResult& p : part) {
    r.non_finite += p.non_finite;
    r.first = std::min(r.first, p.first);
  }
  return r;
}

}  // namespace shears
