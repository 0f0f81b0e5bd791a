// Causal multi-head attention with grouped-query heads, softmax in float32.
//   q [T, heads*hd], k/v [T, kv_heads*hd], out [T, heads*hd], T = batch*seq.
//   Head h reads kv head h / (heads / kv_heads). For query position t of a sequence:
//   out = sum_{j<=t} softmax_j(q.k_j / sqrt(hd)) v_j, over the same sequence only.
#pragma once
#include <cstdint>

namespace shears {

void causal_attention(const float* q, const float* k, const float* v, float* out, int64_t batch, int64_t seq,
                      int64_t heads, int64_t kv_heads, int64_t head_dim);

}  // namespace shears
