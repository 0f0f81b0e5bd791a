// The linear layer's backward on the forward matmul kernel, in its y = x W form
// (matmul_nn): only dy is transposed (tokens x outputs), never W.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/transpose.h"

namespace shears {

namespace {

void bias_grad(const float* dy, int64_t n, int64_t out, float* db) {
  parallel_for(static_cast<size_t>(out), 256, [&](size_t, size_t o0, size_t o1) {
    for (size_t o = o0; o < o1; ++o) {
      double s = 0.0;
      for (int64_t r = 0; r < n; ++r) s += dy[static_cast<size_t>(r * out) + o];
      db[o] += static_cast<float>(s);
    }
  });
}

}  // namespace

void linear_backward(const float* x, const float* dy, int64_t n, const MatrixView& w, float* dx, bool accumulate_dx,
                     float* dw, float* db, bool accumulate_dw) {
  const int64_t out = w.rows, in = w.cols;
  if (n <= 0) return;
  // dx[r][i] = sum_o dy[r][o] W[o][i]: W is already [in = out rows, out = in cols] for matmul_nn.
  if (dx) matmul_nn(dy, out, n, w, in, dx, in, accumulate_dx);
  if (dw) {
    // dW[o][i] += sum_r dy[r][o] x[r][i]: rows of dy^T [out, n] times x [n, in].
    std::vector<float> dyt(static_cast<size_t>(out * n));
    transpose_to_f32(dy, DType::F32, 0, out, n, out, dyt.data(), n);
    matmul_nn(dyt.data(), n, out, f32_matrix(x, n, in), in, dw, in, accumulate_dw);
  }
  if (db) bias_grad(dy, n, out, db);
}

}  // namespace shears
