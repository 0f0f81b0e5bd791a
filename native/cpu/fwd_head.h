// The ends of the forward pass: token embedding, and the final norm + LM head.
//   embed:  out[r] = E[tok[r]] (+ P[start + r % seq + pos_offset] with learned positions)
//   nll:    out[r] = logsumexp(z_r) - z_r[target[r]], z_r = lm(norm(h_r)); target -1: no
//           prediction (out NaN, not counted). The [rows, vocab] logits are never
//           materialized: tiles of rows x vocab are reduced to (max, sum of exp) and
//           merged in a fixed order (same bits whatever the thread count).
//   logits: out[r] = lm(norm(h_r)), [rows, vocab]
//   argmax: per row, lowest index on ties
//   kl_top1: per row KL(softmax(a) || softmax(b)) and both argmaxes (lowest index on ties)
#pragma once
#include <cstdint>

#include "cpu/fwd_types.h"

namespace shears {

void embed_tokens(const int32_t* tokens, int64_t n, int64_t seq, int64_t start, const MatrixView& table,
                  const MatrixView* pos, int64_t pos_offset, float* out);

struct NllTotal {
  double sum = 0.0;
  int64_t count = 0;
};
NllTotal nll_rows(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out);

void logits_rows(const HeadSpec& head, const float* hidden, int64_t rows, float* out);

struct KlTop1 {
  double kl_mean = 0.0;
  double top1_agreement = 0.0;
};
// out[r] = index of the largest x[r][j] (lowest index on ties).
void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out);

KlTop1 kl_top1(const float* a, const float* b, int64_t rows, int64_t vocab, double* kl, int32_t* arg_a, int32_t* arg_b);

}  // namespace shears
