// Sparse variational dropout block by block (docs/variational-dropout.md): one transformer
// block whose pruned linear layers are variational (theta, log sigma^2, the local
// reparameterization noise) while everything else (norms, RoPE, attention, activations,
// biases) is the dense block's, trained so that its output reconstructs the dense block's
// output on the calibration sequences.
//
// The block is the forward pass's own (cpu/fwd_block.h: run_block_saved, block_backward):
// each variational matrix is the block spec's matrix pointed at theta (float32), and a
// LinearSeam adds the noise path of vd_linear (vd_noise_forward / vd_noise_backward) after
// that linear layer's forward and backward. So the variational block with eps = 0 is the
// dense block with W = theta, bit for bit, and its theta gradients are block_backward's.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "cpu/fwd_types.h"
#include "cpu/vd_adam.h"
#include "cpu/vd_random.h"

namespace shears {

// One matrix of the block, all [out, in] float32. theta null: the matrix stays dense.
struct VdMatrixParams {
  float* theta = nullptr;
  float* log_sigma2 = nullptr;
  // Gradients of the loss (null: not wanted), written by vd_block_mse.
  float* d_theta = nullptr;
  float* d_log_sigma2 = nullptr;
};
using VdBlockParams = std::array<VdMatrixParams, kBlockLinears>;

// The noise of the variational matrices: eps drawn from `rng` as each linear layer runs
// (in the block's fixed order q, k, v, o, gate, up, down), or 0 with rng null (the mean
// network; std is still computed, so the backward runs the same code).
class VdBlockSeam final : public LinearSeam {
 public:
  // dense: the block (its matrices' shapes).
  VdBlockSeam(const BlockSpec& dense, const VdBlockParams& p, VdRng* rng);
  void after_forward(BlockLinear which, const float* x, int64_t n, float* y) override;
  void after_backward(BlockLinear which, const float* x, int64_t n, const float* dy, float* dx) override;
  // The eps the last forward drew for `which` ([n, out]; empty for a dense matrix).
  const std::vector<float>& eps(BlockLinear which) const { return eps_[static_cast<int>(which)]; }

 private:
  const VdBlockParams& p_;
  VdRng* rng_;
  std::array<int64_t, kBlockLinears> in_{}, out_{};
  std::array<std::vector<float>, kBlockLinears> eps_, std_;
};

// The dense block with each variational matrix replaced by its theta and `seam` set (null:
// the mean network as a plain block).
BlockSpec vd_block_spec(const BlockSpec& dense, const VdBlockParams& p, LinearSeam* seam);

// One forward and backward of the variational block over x [batch*seq, hidden] (not
// changed): returns the mean squared error of its output against target [batch*seq,
// hidden] and writes the error's gradients to d_theta / d_log_sigma2 of each variational
// matrix. out (null: not wanted) receives the block's output; eps_out[m] (null: not
// wanted) the noise drawn for matrix m.
double vd_block_mse(const BlockSpec& dense, const VdBlockParams& p, VdRng* rng, const float* x, const float* target,
                    int64_t batch, int64_t seq, float* out, const std::array<float*, kBlockLinears>& eps_out);

struct VdBlockSettings : VdSchedule {
  // Calibration sequences per step (>= the sequences held: every sequence, every step).
  int64_t batch_sequences = 4;
};

struct VdBlockResult {
  // Mean squared error of the sampled block output on the first and the last step.
  double mse_first = 0.0, mse_last = 0.0;
  // That of the mean network (theta, no noise) over every sequence, after training.
  double mse_mean = 0.0;
  // Sum of the KL terms of each matrix after training (0 for a dense one).
  std::array<double, kBlockLinears> kl{};
};

// Learns theta (from the dense weights) and log sigma^2 (from log_sigma2_init) of the
// variational matrices by Adam on loss = MSE(sampled block output, target) + beta * sum KL
// / kl_tokens, on minibatches of whole sequences (x, target [sequences*seq, hidden]).
// Deterministic for a seed and any thread count. cancel[0] != 0 stops between steps
// (E_ABORTED); a non-finite loss is E_NONFINITE.
VdBlockResult vd_train_block(const BlockSpec& dense, const VdBlockParams& p, const float* x, const float* target,
                             int64_t sequences, int64_t seq, const VdBlockSettings& s, const int32_t* cancel);

}  // namespace shears
