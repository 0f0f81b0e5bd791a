#include "cpu/bwd_model.h"

#include <string>

#include "core/error.h"
#include "cpu/fwd_embed.h"

namespace shears {

namespace {

void poll(const int32_t* cancel) {
  if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) fail(kAborted, "gradient computation aborted");
}

}  // namespace

NllTotal model_backward(const ModelSpec& m, const ModelGrads& g, const int32_t* tokens, int64_t batch, int64_t seq,
                        const int32_t* cancel) {
  const size_t L = m.blocks.size();
  if (g.blocks.size() != L) fail(kShapeError, "gradients for " + std::to_string(g.blocks.size()) + " blocks, the model has " + std::to_string(L));
  if (batch < 1 || seq < 2) fail(kRangeError, "next-token loss needs batch >= 1 and seq >= 2");
  const int64_t T = batch * seq, H = m.embed.cols;
  const size_t nh = static_cast<size_t>(T * H);
  for (const BlockSpec& b : m.blocks) check_block(b);

  std::vector<float> h(nh);
  embed_tokens(tokens, T, seq, 0, m.embed, m.has_pos ? &m.pos : nullptr, m.pos_offset, h.data());
  std::vector<int32_t> targets(static_cast<size_t>(T));
  for (int64_t r = 0; r < T; ++r) targets[static_cast<size_t>(r)] = r % seq == seq - 1 ? -1 : tokens[r + 1];

  // Forward: block inputs kept, the last block's activations kept.
  std::vector<std::vector<float>> inputs(L);
  BlockActs acts;
  for (size_t i = 0; i < L; ++i) {
    poll(cancel);
    if (i + 1 < L) {
      inputs[i] = h;
      run_block(m.blocks[i], h.data(), batch, seq, BlockCaptures());
    } else {
      run_block_saved(m.blocks[i], h.data(), batch, seq, acts);
    }
  }
  poll(cancel);
  std::vector<float> dh(nh);
  const NllTotal total = nll_backward(m.head, h.data(), T, targets.data(), dh.data(), g.head);
  h = std::vector<float>();

  // Backward, last block first; each earlier block recomputed from its input.
  for (size_t i = L; i-- > 0;) {
    poll(cancel);
    if (i + 1 < L) {
      run_block_saved(m.blocks[i], inputs[i].data(), batch, seq, acts);
      inputs[i] = std::vector<float>();
    }
    block_backward(m.blocks[i], acts, dh.data(), batch, seq, g.blocks[i]);
    acts = BlockActs();
  }
  embed_backward(tokens, T, seq, dh.data(), H, g.embed, m.has_pos ? g.pos : nullptr, m.pos_offset);
  return total;
}

}  // namespace shears
