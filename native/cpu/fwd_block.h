// One transformer block over a batch of sequences, hidden states updated in place.
//   pre-norm:  h += o(attn(rope(q(n1(h))), rope(k(n1(h))), v(n1(h))))
//              h += down(act(gate(n2(h))) * up(n2(h)))        (or fc2(act(fc1(n2(h)))))
//   post-norm (OPT do_layer_norm_before = false):
//              h = n1(h + o(attn(...h...)));  h = n2(h + fc2(act(fc1(h))))
// Every linear layer adds its bias when it has one.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/fwd_types.h"

namespace shears {

// Throws E_SHAPE when a weight does not fit the block's dimensions.
void check_block(const BlockSpec& b);

// hidden [batch*seq, b.hidden]: the tokens at positions [kv->start, kv->start + seq)
// of each sequence when a cache is given (it then supplies the earlier keys and
// values and receives the new ones), else positions [0, seq).
void run_block(const BlockSpec& b, float* hidden, int64_t batch, int64_t seq, const BlockCaptures& cap,
               const KvCache* kv = nullptr);

// What the backward needs of one block's forward (no KV cache), [tokens, width] each.
//   norm_in: what the sublayer's norm read (pre-norm: the sublayer's input; post-norm:
//   the residual sum it normalizes); x: the input of q/k/v (or gate/up, fc1).
struct BlockActs {
  std::vector<float> attn_norm_in, attn_x, q, k, v, att;  // q, k after RoPE; att: input of o
  std::vector<float> mlp_norm_in, mlp_x, g, u, m;         // g before the activation, m: input of down
};

// run_block (same bits) that also keeps the activations.
void run_block_saved(const BlockSpec& b, float* hidden, int64_t batch, int64_t seq, BlockActs& acts);

// Gradients of a block's parameters (float32, each in its parameter's layout; null:
// absent or not wanted). The backward writes the weight matrices' (their only
// contribution) and adds into the norms' and biases'.
struct BlockGrads {
  float *attn_norm_weight = nullptr, *attn_norm_bias = nullptr;
  float *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;
  float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
  float *mlp_norm_weight = nullptr, *mlp_norm_bias = nullptr;
  float *gate = nullptr, *up = nullptr, *down = nullptr;
  float *gate_bias = nullptr, *up_bias = nullptr, *down_bias = nullptr;
};

// Backward of the block from its saved activations: dh [tokens, hidden] holds the
// gradient of the block's output and receives that of its input.
void block_backward(const BlockSpec& b, const BlockActs& acts, float* dh, int64_t batch, int64_t seq,
                    const BlockGrads& g);

}  // namespace shears
