// Writing packed keep-masks: bit i of the matrix (row-major) lives in byte i/8 at
// position i%8 (little-endian bit order). Callers give each thread whole bytes
// (row ranges that start on a byte boundary) so no byte is written by two threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// Sets n bits starting at bit `bit0`: bit (bit0+j) = keep(j). Bytes wholly inside the
// range are overwritten; the partial bytes at either end are read-modified-written.
template <typename KeepFn>
inline void write_bits(uint8_t* bits, size_t bit0, size_t n, KeepFn keep) {
  size_t j = 0;
  // leading partial byte
  while (j < n && ((bit0 + j) & 7) != 0) {
    size_t i = bit0 + j;
    uint8_t b = static_cast<uint8_t>(1u << (i & 7));
    if (keep(j)) bits[i >> 3] |= b; else bits[i >> 3] &= static_cast<uint8_t>(~b);
    ++j;
  }
  // whole bytes
  for (; j + 8 <= n; j += 8) {
    uint8_t byte = 0;
    for (unsigned t = 0; t < 8; ++t) byte |= static_cast<uint8_t>(keep(j + t) ? 1u << t : 0u);
    bits[(bit0 + j) >> 3] = byte;
  }
  // trailing partial byte
  for (; j < n; ++j) {
    size_t i = bit0 + j;
    uint8_t b = static_cast<uint8_t>(1u << (i & 7));
    if (keep(j)) bits[i >> 3] |= b; else bits[i >> 3] &= static_cast<uint8_t>(~b);
  }
}

inline bool get_bit(const uint8_t* bits, size_t i) { return (bits[i >> 3] >> (i & 7)) & 1u; }

// Rows per parallel chunk so that every chunk starts on a byte boundary of the mask.
inline size_t byte_aligned_row_multiple(size_t cols) {
  size_t m = 1;
  while ((m * cols) % 8 != 0) m *= 2;  // at most 8
  return m;
}

}  // namespace shears
