// Rotary position embedding, in place on q or k rows [T, n_heads * head_dim], where
// row r is position start + r % seq (the batch holds independent sequences; start > 0
// when earlier positions are in a KV cache).
// Frequencies: f_i = theta^(-2i/dim), i < dim/2 (dim = rotated dims per head; the
// rest of the head passes through). Llama-3 scaling rescales f_i by wavelength.
// Layouts: interleaved rotates pairs (2i, 2i+1) (GGUF, llama2.c); rotate_half
// rotates (i, i + dim/2) (Hugging Face). Angles are computed in double.
//   (a, b) -> (a cos - b sin, a sin + b cos), angle = pos * f_i
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/fwd_types.h"

namespace shears {

// The (possibly scaled) inverse frequencies f_i, i < dim/2.
std::vector<double> rope_inv_freq(const RopeSpec& spec);

// cos/sin tables [positions][dim/2] (float32).
struct RopeTable {
  int64_t half = 0;
  std::vector<float> cos, sin;
};
RopeTable rope_table(const RopeSpec& spec, int64_t positions);

// The table must cover positions [0, start + seq).
void apply_rope(const RopeSpec& spec, const RopeTable& table, float* x, int64_t rows, int64_t seq, int64_t start,
                int64_t n_heads, int64_t head_dim);

// Backward of apply_rope, in place on the gradient rows: the rotation is orthogonal,
// so the gradient turns back by the same angle (cos, -sin). Same frequencies (Llama-3
// scaling included), layouts and partial rotary dim as the forward.
void rope_backward(const RopeSpec& spec, const RopeTable& table, float* dx, int64_t rows, int64_t seq, int64_t start,
                   int64_t n_heads, int64_t head_dim);

}  // namespace shears
