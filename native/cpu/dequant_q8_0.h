// GGUF Q8_0 dequantization. A block holds 32 weights: an f16 scale d followed by
// 32 int8 quants q[i] (34 bytes). Reference semantics:
//   for each block b, for i in 0..31: out[32*b + i] = f16_to_f32(d_b) * (float)q_b[i]
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

inline constexpr size_t kQ8_0BlockWeights = 32;
inline constexpr size_t kQ8_0BlockBytes = 34;

// src: n_blocks * 34 bytes (no alignment needed); out: n_blocks * 32 floats.
void dequant_q8_0(const uint8_t* src, size_t n_blocks, float* out);

}  // namespace shears
