// One AdamW step (Loshchilov & Hutter; PyTorch's torch.optim.AdamW update order) on one
// parameter tensor, for recovery fine-tuning with a fixed sparsity mask and an optional
// elastic-weight-consolidation pull toward anchor weights.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

struct AdamWParams {
  int64_t step = 1;  // t >= 1, after this step's increment (bias correction 1 - beta^t)
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: w -= lr * weight_decay * w
  // EWC: g += ewc_lambda * fisher[i] * (w[i] - anchor[i]) (the gradient of
  // ewc_lambda/2 * sum F (w - w*)^2). Both null: no EWC term. The anchor is read in its
  // own storage dtype (the dense input's, through a read-only mapping: no float32 copy).
  double ewc_lambda = 0.0;
  const float* fisher = nullptr;
  const void* anchor = nullptr;
  DType anchor_dtype = DType::F32;
};

struct AdamWTensor {
  void* param = nullptr;  // storage: f32, or f16/bf16 bits
  DType dtype = DType::F32;
  size_t n = 0;
  const float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  // The float32 master copy for f16/bf16 storage (null for f32: the parameter is its own).
  float* master = nullptr;
  // Packed keep-mask (bit i set: trainable). Null: every weight trains. Weights whose bit
  // is clear are set to zero, their moments too, and nothing else happens to them.
  const uint8_t* keep = nullptr;
};

// Updates t in place. Elementwise on the thread pool: the same bits for any thread
// count. Under a keep-mask, a kept weight whose stored value would round to exactly zero
// is stored as the smallest nonzero value of its dtype with the master's sign, so that
// the zeros of the tensor stay exactly the pruned positions (the mask can be read back
// from the file).
void adamw_step(const AdamWTensor& t, const AdamWParams& p);

}  // namespace shears
