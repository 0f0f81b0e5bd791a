// Causal multi-head attention with grouped-query heads, softmax in float32.
//   q [batch*seq, heads*hd], out [batch*seq, heads*hd]: the new tokens, at positions
//   start .. start+seq-1 of their sequence.
//   k/v [batch*capacity, kv_heads*hd]: keys and values of positions 0 .. start+seq-1
//   of each sequence (capacity = seq, start = 0 without a KV cache).
//   Head h reads kv head h / (heads / kv_heads). For the token at position p:
//   out = sum_{j<=p} softmax_j(q.k_j / sqrt(hd)) v_j, over the same sequence only.
#pragma once
#include <cstdint>

namespace shears {

void causal_attention(const float* q, const float* k, const float* v, float* out, int64_t batch, int64_t seq,
                      int64_t start, int64_t capacity, int64_t heads, int64_t kv_heads, int64_t head_dim);

// Backward without a cache (start 0, capacity seq): from q, k, v (after RoPE) and the
// gradient dout of out, writes dq [batch*seq, heads*hd] and dk, dv [batch*seq, kv_heads*hd].
// Per (sequence, head, chunk of queries, as the forward) the probabilities P are
// recomputed, then with dS = P (dP - rowsum(P dP)):
//   dP = dO V^T, dQ = scale dS K, dK_h = scale dS^T Q, dV_h = P^T dO.
// The query heads of a group add into their kv head's dK, dV in head order.
void causal_attention_backward(const float* q, const float* k, const float* v, const float* dout, float* dq, float* dk,
                               float* dv, int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads, int64_t head_dim);

}  // namespace shears
