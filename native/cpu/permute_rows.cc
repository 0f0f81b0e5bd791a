#include "cpu/permute_rows.h"

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"

namespace shears {

void permute_rope_rows(const uint8_t* src, uint8_t* dst, size_t heads, size_t head_dim, size_t row_bytes,
                       bool to_interleaved) {
  const size_t h = head_dim / 2;
  parallel_for(heads, 1, [&](size_t, size_t b, size_t e) {
    for (size_t head = b; head < e; ++head) {
      const size_t base = head * head_dim;
      for (size_t i = 0; i < h; ++i) {
        for (size_t k = 0; k < 2; ++k) {
          size_t inter = base + 2 * i + k, half = base + k * h + i;
          size_t from = to_interleaved ? half : inter, to = to_interleaved ? inter : half;
          std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
        }
      }
    }
  });
}

namespace {
template <typename T>
void transpose_tiles(const T* src, T* dst, size_t rows, size_t cols, size_t r0, size_t r1) {
  constexpr size_t kTile = 32;  // cache-friendly blocks
  for (size_t rb = r0; rb < r1; rb += kTile) {
    size_t re = std::min(r1, rb + kTile);
    for (size_t cb = 0; cb < cols; cb += kTile) {
      size_t ce = std::min(cols, cb + kTile);
      for (size_t r = rb; r < re; ++r)
        for (size_t c = cb; c < ce; ++c) dst[c * rows + r] = src[r * cols + c];
    }
  }
}
}  // namespace

void transpose_bytes(const uint8_t* src, uint8_t* dst, size_t rows, size_t cols, size_t elem_bytes) {
  // Typed copies need element alignment (buffers may be unaligned views of a file).
  const bool aligned = reinterpret_cast<uintptr_t>(src) % elem_bytes == 0 && reinterpret_cast<uintptr_t>(dst) % elem_bytes == 0;
  parallel_for(rows, 64, [&](size_t, size_t b, size_t e) {
    if (aligned && elem_bytes == 4) {
      transpose_tiles(reinterpret_cast<const uint32_t*>(src), reinterpret_cast<uint32_t*>(dst), rows, cols, b, e);
    } else if (aligned && elem_bytes == 2) {
      transpose_tiles(reinterpret_cast<const uint16_t*>(src), reinterpret_cast<uint16_t*>(dst), rows, cols, b, e);
    } else {
      for (size_t r = b; r < e; ++r)
        for (size_t c = 0; c < cols; ++c)
          std::memcpy(dst + (c * rows + r) * elem_bytes, src + (r * cols + c) * elem_bytes, elem_bytes);
    }
  });
}

void gather_bytes(const uint8_t* src, uint8_t* dst, size_t cols, size_t elem_bytes, const int32_t* row_idx,
                  size_t n_rows, const int32_t* col_idx, size_t n_cols) {
  const size_t src_row = cols * elem_bytes, dst_row = n_cols * elem_bytes;
  parallel_for(n_rows, 16, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const uint8_t* s = src + static_cast<size_t>(row_idx ? row_idx[i] : i) * src_row;
      uint8_t* d = dst + i * dst_row;
      if (!col_idx) {
        std::memcpy(d, s, src_row);
      } else if (elem_bytes == 2) {
        for (size_t j = 0; j < n_cols; ++j) std::memcpy(d + 2 * j, s + 2 * static_cast<size_t>(col_idx[j]), 2);
      } else {
        for (size_t j = 0; j < n_cols; ++j)
          std::memcpy(d + j * elem_bytes, s + static_cast<size_t>(col_idx[j]) * elem_bytes, elem_bytes);
      }
    }
  });
}

}  // namespace shears
