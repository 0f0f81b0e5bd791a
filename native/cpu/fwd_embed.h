// The start of the forward pass: token embedding (plus learned positions), and its
// backward (a scatter-add into the tables' gradients).
//   embed:  out[r] = E[tok[r]] (+ P[start + r % seq + pos_offset] with learned positions)
#pragma once
#include <cstdint>

#include "core/matrix_view.h"

namespace shears {

void embed_tokens(const int32_t* tokens, int64_t n, int64_t seq, int64_t start, const MatrixView& table,
                  const MatrixView* pos, int64_t pos_offset, float* out);

// dtable[tok[r]] += dout[r]; dpos[r % seq + pos_offset] += dout[r] (null: not wanted, or
// no learned positions). Tokens are checked by the forward. Each task owns a range of columns and
// adds the rows in order: the same bits for any thread count.
void embed_backward(const int32_t* tokens, int64_t n, int64_t seq, const float* dout, int64_t hidden, float* dtable,
                    float* dpos, int64_t pos_offset);

}  // namespace shears
