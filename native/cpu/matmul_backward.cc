// The linear layer's backward on the forward matmul kernel (y = x W^T): every product
// is rewritten into that form with transposed float32 operands.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/transpose.h"

namespace shears {

namespace {

// Input columns per task of dx = dy W: the task transposes W[:, c0:c0+kInChunk] to
// float32 ([chunk, out]), so W^T is never whole in memory.
constexpr int64_t kInChunk = 256;

void input_grad(const float* dy, int64_t n, const MatrixView& w, float* dx, bool accumulate) {
  const int64_t out = w.rows, in = w.cols;
  const size_t chunks = static_cast<size_t>((in + kInChunk - 1) / kInChunk);
  parallel_for(chunks, 1, [&](size_t, size_t t0, size_t t1) {
    std::vector<float> wt(static_cast<size_t>(kInChunk * out));
    for (size_t t = t0; t < t1; ++t) {
      const int64_t c0 = static_cast<int64_t>(t) * kInChunk, cw = std::min(kInChunk, in - c0);
      // wt[c][o] = W[o][c0 + c]
      transpose_to_f32(w.data, w.dtype, static_cast<size_t>(c0), in, out, cw, wt.data(), out, false);
      const MatrixView wv = f32_matrix(wt.data(), cw, out);
      if (accumulate)
        matmul_accumulate(dy, out, n, wv, out, dx + c0, in, false);
      else
        matmul_strided(dy, out, n, wv, out, nullptr, dx + c0, in, false);
    }
  });
}

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
                     float* dw, float* db) {
  const int64_t out = w.rows, in = w.cols;
  if (n <= 0) return;
  if (dx) input_grad(dy, n, w, dx, accumulate_dx);
  if (dw) {
    // dW[o][i] += sum_r dy[r][o] x[r][i]: rows dy^T [out, n] against x^T [in, n].
    std::vector<float> dyt(static_cast<size_t>(out * n)), xt(static_cast<size_t>(in * n));
    transpose_to_f32(dy, DType::F32, 0, out, n, out, dyt.data(), n);
    transpose_to_f32(x, DType::F32, 0, in, n, in, xt.data(), n);
    matmul_accumulate(dyt.data(), n, out, f32_matrix(xt.data(), in, n), n, dw, in);
  }
  if (db) bias_grad(dy, n, out, db);
}

}  // namespace shears
