// Learned masks block by block (docs/query-aware-building-blocks.md, "Learned masks"): a
// logit theta per weight of a block's linear layers gates that weight by a hard-concrete
// z (cpu/hc_gate.h); the block with W_eff = W * z (the forward pass's own block,
// cpu/fwd_block.h, its matrices pointed at float32 W_eff) is trained so that its output
// reconstructs the dense block's on the calibration sequences, under a pull of the
// expected density towards a target:
//   loss = sum_t w_t |y_t - y*_t|^2 / (hidden * sum_t w_t) + lambda * (D - target)^2
// with w_t a per-token weight (1 by default; the query environment weighs answer tokens)
// and D the mean of P(z > 0) over the block's gated weights (or one term per matrix with
// its own target). Adam on theta (cpu/vd_adam.h), seeded gates and sequence order
// (cpu/vd_random.h): deterministic for a seed and any thread count.
#pragma once
#include <array>
#include <cstdint>

#include "cpu/fwd_types.h"
#include "cpu/hc_gate.h"

namespace shears {

// One matrix of the block, [out, in] float32. theta null: the matrix stays dense.
struct HcMatrix {
  float* theta = nullptr;
  // The step's uniforms (hc_block_loss only; null: the mean gate).
  const float* u = nullptr;
  // dLoss/dtheta (null: not wanted), written.
  float* d_theta = nullptr;
};
using HcBlockParams = std::array<HcMatrix, kBlockLinears>;

struct HcObjective {
  HcGate gate;
  double lambda = 1.0;
  // The block's target density (fraction of weights kept), or one per matrix.
  double target_density = 0.5;
  bool per_matrix = false;
  std::array<double, kBlockLinears> targets{};
};

struct HcLoss {
  double mse = 0.0, penalty = 0.0;
  // The expected density of the gated weights (all of them).
  double density = 0.0;
  double total() const { return mse + penalty; }
};

// Throws E_RANGE for a bad gate, lambda or target, E_SHAPE for a gated matrix the block lacks.
void check_objective(const BlockSpec& dense, const HcBlockParams& p, const HcObjective& o);

// One forward and backward of the gated block over x [batch*seq, hidden] (not changed)
// against target, with token weights [batch*seq] (null: 1): returns the loss and writes
// d_theta of each gated matrix; out (null: not wanted) receives the block's output.
HcLoss hc_block_loss(const BlockSpec& dense, const HcBlockParams& p, const float* x, const float* target,
                     const float* token_weight, int64_t batch, int64_t seq, const HcObjective& o, float* out);

struct HcTrainSettings {
  HcObjective objective;
  int64_t steps = 200;
  double lr = 0.05;
  // Calibration sequences per step (>= the sequences held: every sequence, every step).
  int64_t batch_sequences = 4;
  uint64_t seed = 0;
};

struct HcTrainResult {
  HcLoss first, last;
  // The mean gate's reconstruction error over every sequence, after training.
  double mse_mean = 0.0;
};

// Learns theta (starting from the caller's values) by Adam on minibatches of whole
// sequences (x, target [sequences*seq, hidden], token_weight [sequences*seq] or null).
// cancel[0] != 0 stops between steps (E_ABORTED); a non-finite loss is E_NONFINITE.
HcTrainResult hc_train_block(const BlockSpec& dense, const HcBlockParams& p, const float* x, const float* target,
                             const float* token_weight, int64_t sequences, int64_t seq, const HcTrainSettings& s,
                             const int32_t* cancel);

}  // namespace shears
