// One transformer block over a batch of sequences, hidden states updated in place.
//   pre-norm:  h += o(attn(rope(q(n1(h))), rope(k(n1(h))), v(n1(h))))
//              h += down(act(gate(n2(h))) * up(n2(h)))        (or fc2(act(fc1(n2(h)))))
//   post-norm (OPT do_layer_norm_before = false):
//              h = n1(h + o(attn(...h...)));  h = n2(h + fc2(act(fc1(h))))
// Every linear layer adds its bias when it has one.
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

// Throws E_SHAPE when a weight does not fit the block's dimensions.
void check_block(const BlockSpec& b);

// hidden [batch*seq, b.hidden]: the tokens at positions [kv->start, kv->start + seq)
// of each sequence when a cache is given (it then supplies the earlier keys and
// values and receives the new ones), else positions [0, seq).
void run_block(const BlockSpec& b, float* hidden, int64_t batch, int64_t seq, const BlockCaptures& cap,
               const KvCache* kv = nullptr);

}  // namespace shears
