// The end of the forward pass: the final norm + LM head (the token embedding, its
// start, is in fwd_embed.h).
//   nll:    out[r] = logsumexp(z_r) - z_r[target[r]], z_r = lm(norm(h_r)); target -1: no
//           prediction (out NaN, not counted). The [rows, vocab] logits are never
//           materialized: tiles of rows x vocab are reduced to (max, sum of exp) and
//           merged in a fixed order (same bits whatever the thread count).
//   logits: out[r] = lm(norm(h_r)), [rows, vocab]
//   argmax: per row, lowest index on ties
//   kl_top1: per row KL(softmax(a) || softmax(b)) and both argmaxes (lowest index on ties)
#pragma once
#include <cstdint>

#include "cpu/fwd_embed.h"
#include "cpu/fwd_types.h"

namespace shears {

struct NllTotal {
  double sum = 0.0;
  int64_t count = 0;
};
NllTotal nll_rows(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out);

// Gradients of the head (null: not wanted). The norm's are added to; lm is written
// unless lm_accumulate (a tied head writes it before the embedding adds its part).
struct HeadGrads {
  float* norm_weight = nullptr;
  float* norm_bias = nullptr;
  float* lm = nullptr;  // [vocab, hidden]
  bool lm_accumulate = false;
};

// Backward of the mean NLL over the rows with a target (their count is the divisor):
// writes dhidden [rows, hidden] and g (as HeadGrads says), returns the loss's (sum, count): the
// same bits as nll_rows. Per tile of rows (never all rows' logits at once): its
// logits by vocabulary tiles in parallel, logsumexp merged in tile order; then a fixed
// number of vocabulary groups turn their logits into dz, add dz^T x into their own
// rows of dlm (tile order) and dz W into their own share of dx, and the shares are
// summed in group order.   dz = (softmax(z) - onehot(target)) / count
// With `teacher` (rows x vocab logits of another model, e.g. the dense one) the loss is
// distillation instead: the mean over the same rows of KL(p || softmax(z)), p =
// softmax(teacher row), and dz = (softmax(z) - p) / count (float64 per element, the KL
// summed per vocabulary group then in group order: the same bits for any thread count).
NllTotal nll_backward(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* dhidden,
                      const HeadGrads& g, const float* teacher = nullptr);

void logits_rows(const HeadSpec& head, const float* hidden, int64_t rows, float* out);

struct KlTop1 {
  double kl_mean = 0.0;
  double top1_agreement = 0.0;
};
// out[r] = index of the largest x[r][j] (lowest index on ties).
void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out);

KlTop1 kl_top1(const float* a, const float* b, int64_t rows, int64_t vocab, double* kl, int32_t* arg_a, int32_t* arg_b);

}  // namespace shears
