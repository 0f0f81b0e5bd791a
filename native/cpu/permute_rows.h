// Byte-level row rearrangements the format readers and writers need. Elements are
// moved, never converted, so any dtype works (elem_bytes = 2 or 4) and results are
// bit-exact.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// RoPE layout change of a Q or K weight [heads * head_dim, row_bytes], per head.
// Reference semantics with h = head_dim / 2, for each head and i < h, k in {0, 1}:
//   to_interleaved:   dst row (2i + k)   = src row (k*h + i)    (HF rotate-half -> GGUF/llama2.c)
//   to_rotate_half:   dst row (k*h + i)  = src row (2i + k)     (the inverse)
// This is llama.cpp's permute: reshape(heads, 2, h, ...).swapaxes(1, 2).
void permute_rope_rows(const uint8_t* src, uint8_t* dst, size_t heads, size_t head_dim, size_t row_bytes,
                       bool to_interleaved);

// dst[c, r] = src[r, c] for a row-major [rows, cols] matrix of elem_bytes elements.
void transpose_bytes(const uint8_t* src, uint8_t* dst, size_t rows, size_t cols, size_t elem_bytes);

// Structured surgery: the kept rows and columns of a row-major [rows, cols] matrix.
//   dst[i, j] = src[row_idx[i], col_idx[j]]   for i < n_rows, j < n_cols
// row_idx == nullptr: every row (n_rows == rows); col_idx == nullptr: every column.
// Indices must be in range (the caller checks them).
void gather_bytes(const uint8_t* src, uint8_t* dst, size_t cols, size_t elem_bytes, const int32_t* row_idx,
                  size_t n_rows, const int32_t* col_idx, size_t n_cols);

}  // namespace shears
