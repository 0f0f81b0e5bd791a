// Transposes and float32 views that the backward pass uses to feed the matmul kernel
// (y = x W^T) with the other products it needs (dY W, dY^T X, P^T dO...).
#pragma once
#include <cstdint>

#include "core/matrix_view.h"

namespace shears {

// A float32 buffer seen as a [rows, cols] matrix (read only: the matmul never writes W).
inline MatrixView f32_matrix(const float* data, int64_t rows, int64_t cols) {
  MatrixView m;
  m.data = const_cast<float*>(data);
  m.dtype = DType::F32;
  m.rows = rows;
  m.cols = cols;
  return m;
}

// dst[c * ldd + r] = float(src[r][c]) for r < rows, c < cols; src in its stored dtype with
// row stride lds elements (a column block of a wider matrix starts at its first column:
// pass the element offset in `offset`). parallel = false: on the calling thread.
void transpose_to_f32(const void* src, DType t, size_t offset, int64_t lds, int64_t rows, int64_t cols, float* dst,
                      int64_t ldd, bool parallel = true);

}  // namespace shears
