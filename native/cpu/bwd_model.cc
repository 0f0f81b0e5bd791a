#include "cpu/bwd_model.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/fwd_embed.h"
#include "cpu/moments.h"

namespace shears {

namespace {

void poll(const int32_t* cancel) {
  if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) fail(kAborted, "gradient computation aborted");
}

// Zeroes the gradients that are added to (norms, biases, the embedding tables; each
// buffer once), in parallel. The weight matrices' gradients (q/k/v/o, MLP, LM head) are
// written by their one contribution instead: fresh buffers from JavaScript are
// untouched zero pages, first touched by a write then (one fault per page, spread over
// the matmul's threads), never read first (a fault for the zero page, then a
// copy-on-write fault with TLB shootdowns).
void zero_grads(const ModelSpec& m, const ModelGrads& g) {
  std::vector<std::pair<float*, size_t>> bufs;
  auto add = [&](float* p, size_t n) {
    if (!p || n == 0) return;
    for (auto& b : bufs)
      if (b.first == p) return;
    bufs.emplace_back(p, n);
  };
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const BlockSpec& b = m.blocks[i];
    const BlockGrads& d = g.blocks[i];
    const size_t H = static_cast<size_t>(b.hidden), I = static_cast<size_t>(b.intermediate);
    const size_t qd = static_cast<size_t>(b.heads * b.head_dim), kd = static_cast<size_t>(b.kv_heads * b.head_dim);
    for (float* p : {d.attn_norm_weight, d.attn_norm_bias, d.o_bias, d.mlp_norm_weight, d.mlp_norm_bias, d.down_bias}) add(p, H);
    add(d.q_bias, qd);
    add(d.k_bias, kd);
    add(d.v_bias, kd);
    add(d.gate_bias, I);
    add(d.up_bias, I);
  }
  add(g.head.norm_weight, static_cast<size_t>(m.head.lm.cols));
  add(g.head.norm_bias, static_cast<size_t>(m.head.lm.cols));
  // The head writes a tied embedding's gradient before the embedding adds to it.
  if (g.embed != g.head.lm) add(g.embed, m.embed.numel());
  add(g.pos, m.has_pos ? m.pos.numel() : 0);
  for (auto& [p, n] : bufs)
    parallel_for(n, 1 << 16, [p = p](size_t, size_t b, size_t e) { std::memset(p + b, 0, (e - b) * sizeof(float)); });
}

// Bytes of BlockActs for T tokens (what run_block_saved keeps).
size_t activation_bytes(const BlockSpec& b, int64_t T) {
  int64_t per_token = 0;
  if (b.has_attention()) per_token += 2 * b.hidden + 2 * b.heads * b.head_dim + 2 * b.kv_heads * b.head_dim;
  if (b.has_mlp()) per_token += 2 * b.hidden + (b.gated ? 3 : 2) * b.intermediate;
  return static_cast<size_t>(per_token * T) * sizeof(float);
}

// Where each block's gradients go: block_grads(i) gives the buffers of block i just
// before its backward, block_done(i) is called once they are written.
struct BlockGradSink {
  virtual ~BlockGradSink() = default;
  virtual BlockGrads block_grads(size_t i) = 0;
  virtual void block_done(size_t) {}
};

// The gradients of ModelGrads: every block's own buffers.
struct ModelGradSink : BlockGradSink {
  const ModelGrads& g;
  explicit ModelGradSink(const ModelGrads& grads) : g(grads) {}
  BlockGrads block_grads(size_t i) override { return g.blocks[i]; }
};

// Accumulate mode: one set of matrix buffers, sized for the largest wanted block
// matrix of each kind, reused by every block; emptied into the accumulators after each
// block. The matrices' gradients are written (not added to) by the backward, so the
// buffers need no zeroing between blocks.
struct MomentSink : BlockGradSink {
  const ModelSpec& m;
  const std::vector<BlockMoments>& acc;
  std::unique_ptr<float[]> own[7];
  float* buf[7] = {};
  static constexpr GradMoments BlockMoments::*kMoments[7] = {&BlockMoments::q,  &BlockMoments::k,    &BlockMoments::v,
                                                             &BlockMoments::o,  &BlockMoments::gate, &BlockMoments::up,
                                                             &BlockMoments::down};
  static constexpr float* BlockGrads::*kGrads[7] = {&BlockGrads::q,  &BlockGrads::k,    &BlockGrads::v,   &BlockGrads::o,
                                                    &BlockGrads::gate, &BlockGrads::up, &BlockGrads::down};

  static const MatrixView& weight(const BlockSpec& b, int s) {
    const MatrixView* w[7] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
    return *w[s];
  }

  MomentSink(const ModelSpec& model, const std::vector<BlockMoments>& a, const MomentWorkspace* ws) : m(model), acc(a) {
    for (int s = 0; s < 7; ++s) {
      size_t most = 0;
      for (size_t i = 0; i < m.blocks.size(); ++i)
        if ((acc[i].*kMoments[s]).wanted()) most = std::max(most, weight(m.blocks[i], s).numel());
      if (!most) continue;
      if (ws && ws->buf[s] && ws->size[s] >= most) {
        buf[s] = ws->buf[s];
      } else {
        // Uninitialized: first touched by the backward's writes, spread over its threads.
        own[s].reset(new float[most]);
        buf[s] = own[s].get();
      }
    }
  }
  BlockGrads block_grads(size_t i) override {
    BlockGrads g;
    for (int s = 0; s < 7; ++s)
      if ((acc[i].*kMoments[s]).wanted()) g.*kGrads[s] = buf[s];
    return g;
  }
  void block_done(size_t i) override {
    for (int s = 0; s < 7; ++s) {
      const GradMoments& a = acc[i].*kMoments[s];
      if (a.wanted()) accumulate_moments(buf[s], weight(m.blocks[i], s).numel(), a.sum, a.sum_sq);
    }
  }
};

// The checkpointed forward and backward (see bwd_model.h); head and embedding
// gradients as given (null: not wanted), the blocks' through the sink.
NllTotal backward_into(const ModelSpec& m, const HeadGrads& head, float* embed, float* pos, BlockGradSink& sink,
                       const int32_t* tokens, int64_t batch, int64_t seq, const int32_t* cancel, size_t keep_bytes,
                       const float* teacher) {
  const size_t L = m.blocks.size();
  if (batch < 1 || seq < 2) fail(kRangeError, "next-token loss needs batch >= 1 and seq >= 2");
  const int64_t T = batch * seq, H = m.embed.cols;
  const size_t nh = static_cast<size_t>(T * H);

  // Which blocks keep their activations from the forward: the last one always (its
  // backward comes first), then earlier ones while they fit in keep_bytes.
  std::vector<bool> keep(L, false);
  size_t kept = 0;
  for (size_t i = L; i-- > 0;) {
    kept += activation_bytes(m.blocks[i], T);
    keep[i] = i + 1 == L || kept <= keep_bytes;
    if (!keep[i]) break;
  }

  std::vector<float> h(nh);
  embed_tokens(tokens, T, seq, 0, m.embed, m.has_pos ? &m.pos : nullptr, m.pos_offset, h.data());
  std::vector<int32_t> targets(static_cast<size_t>(T));
  for (int64_t r = 0; r < T; ++r) targets[static_cast<size_t>(r)] = r % seq == seq - 1 ? -1 : tokens[r + 1];

  // Forward: the other blocks keep their input only.
  std::vector<std::vector<float>> inputs(L);
  std::vector<BlockActs> acts(L);
  for (size_t i = 0; i < L; ++i) {
    poll(cancel);
    if (keep[i]) {
      run_block_saved(m.blocks[i], h.data(), batch, seq, acts[i]);
    } else {
      inputs[i] = h;
      run_block(m.blocks[i], h.data(), batch, seq, BlockCaptures());
    }
  }
  poll(cancel);
  std::vector<float> dh(nh);
  HeadGrads head_grads = head;
  head_grads.lm_accumulate = false;  // the head's lm part comes first, even when tied
  const NllTotal total = nll_backward(m.head, h.data(), T, targets.data(), dh.data(), head_grads, teacher);
  h = std::vector<float>();

  // Backward, last block first; a block without kept activations is recomputed from
  // its input (the same bits as in the forward).
  for (size_t i = L; i-- > 0;) {
    poll(cancel);
    if (!keep[i]) {
      run_block_saved(m.blocks[i], inputs[i].data(), batch, seq, acts[i]);
      inputs[i] = std::vector<float>();
    }
    block_backward(m.blocks[i], acts[i], dh.data(), batch, seq, sink.block_grads(i));
    acts[i] = BlockActs();
    sink.block_done(i);
  }
  if (embed || (m.has_pos && pos)) embed_backward(tokens, T, seq, dh.data(), H, embed, m.has_pos ? pos : nullptr, m.pos_offset);
  return total;
}

}  // namespace

NllTotal model_backward(const ModelSpec& m, const ModelGrads& g, const int32_t* tokens, int64_t batch, int64_t seq,
                        const int32_t* cancel, size_t keep_bytes, const float* teacher) {
  if (g.blocks.size() != m.blocks.size())
    fail(kShapeError, "gradients for " + std::to_string(g.blocks.size()) + " blocks, the model has " + std::to_string(m.blocks.size()));
  for (const BlockSpec& b : m.blocks) check_block(b);
  zero_grads(m, g);
  ModelGradSink sink(g);
  return backward_into(m, g.head, g.embed, g.pos, sink, tokens, batch, seq, cancel, keep_bytes, teacher);
}

NllTotal model_backward_moments(const ModelSpec& m, const std::vector<BlockMoments>& acc, const int32_t* tokens,
                                int64_t batch, int64_t seq, const int32_t* cancel, size_t keep_bytes,
                                const MomentWorkspace* ws, const float* teacher) {
  if (acc.size() != m.blocks.size())
    fail(kShapeError, "accumulators for " + std::to_string(acc.size()) + " blocks, the model has " + std::to_string(m.blocks.size()));
  for (const BlockSpec& b : m.blocks) check_block(b);
  MomentSink sink(m, acc, ws);
  return backward_into(m, HeadGrads(), nullptr, nullptr, sink, tokens, batch, seq, cancel, keep_bytes, teacher);
}

}  // namespace shears
