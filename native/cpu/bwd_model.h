// Loss and gradients of a whole model: the mean next-token NLL over batch sequences
// of seq tokens (position t predicts token t+1 of its own sequence) and its gradient
// with respect to every parameter, by block-wise checkpointing:
//   forward: keep each block's input hidden states; the last blocks keep their
//            activations instead, as many as fit in keep_bytes (the very last always:
//            its backward comes first);
//   backward: from the last block to the first, recompute the activations of a block
//            that did not keep them from its saved input (same bits as the forward),
//            run its backward, free them.
// Peak memory: the saved inputs + at most keep_bytes of kept activations (or the last
// block's) + one recomputed block's activations + the gradients. keep_bytes = 0 is
// pure checkpointing; the gradients have the same bits whatever keep_bytes is.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/fwd_block.h"
#include "cpu/fwd_head.h"
#include "cpu/fwd_types.h"

namespace shears {

struct ModelSpec {
  std::vector<BlockSpec> blocks;
  MatrixView embed;
  bool has_pos = false;
  MatrixView pos;  // learned positions (row p + pos_offset for position p)
  int64_t pos_offset = 0;
  HeadSpec head;
};

// Gradients, written (whatever the buffers held); null: not wanted. A tied LM head
// passes the embedding's gradient as head.lm: the head writes it, then the embedding
// adds its part. head.lm_accumulate is ignored.
struct ModelGrads {
  std::vector<BlockGrads> blocks;
  float* embed = nullptr;
  float* pos = nullptr;
  HeadGrads head;
};

// tokens [batch * seq], seq >= 2. cancel (may be null): polled between blocks; nonzero
// stops the run with E_ABORTED. Returns the NLL's sum and count (batch * (seq - 1)).
// With `teacher` ([batch * seq, vocab] logits of another model on the same tokens) the
// loss is distillation on the same rows: the sum of KL(softmax(teacher) || softmax(z))
// (cpu/fwd_head.h nll_backward), and the gradients are that loss's.
NllTotal model_backward(const ModelSpec& m, const ModelGrads& g, const int32_t* tokens, int64_t batch, int64_t seq,
                        const int32_t* cancel, size_t keep_bytes, const float* teacher = nullptr);

// Accumulate mode: sum += G and sum_sq += G^2 (either may be null) for a weight's
// gradient G of this call's loss. The same bits as adding the gradient that
// model_backward returns with accumulate_moments (cpu/moments.h).
struct GradMoments {
  float* sum = nullptr;
  float* sum_sq = nullptr;
  bool wanted() const { return sum || sum_sq; }
};
// A block's weight matrices whose gradient moments are wanted (the pruned ones).
struct BlockMoments {
  GradMoments q, k, v, o, gate, up, down;
};

// model_backward in accumulate mode: only the matrices in acc (one entry per block)
// get gradients, each block's into buffers of that block alone, added into their
// accumulators as soon as the block's backward is done, then reused for the next
// block. Peak memory: model_backward's activations + one block's wanted gradients
// (never the whole model's, nor the embedding's or the head's).
// ws (may be null): the caller's buffers for one block's gradients, one per matrix kind
// in BlockMoments order (q k v o gate up down), reused across calls so that their pages
// are faulted in once, not on every call; a buffer smaller than the largest wanted
// matrix of its kind (size[s] counts floats) is not used (the call allocates its own).
struct MomentWorkspace {
  float* buf[7] = {};
  size_t size[7] = {};
};
// teacher: as model_backward's (null: the NLL).
NllTotal model_backward_moments(const ModelSpec& m, const std::vector<BlockMoments>& acc, const int32_t* tokens,
                                int64_t batch, int64_t seq, const int32_t* cancel, size_t keep_bytes,
                                const MomentWorkspace* ws = nullptr, const float* teacher = nullptr);

inline constexpr const char* kAborted = "E_ABORTED";

}  // namespace shears
