// Drawing the next token from rows of logits [rows, vocab]: greedy, or sampled from
// softmax(z / temperature) restricted to the top_k largest logits. The random number of
// each row is given (u in [0, 1)), so the draw is a pure function of (logits, options, u)
// and a seeded caller gets the same tokens on any machine and thread count.
//   temperature == 0 or top_k == 1: the argmax (lowest index on ties), u unused.
//   otherwise: the candidates (all, or the top_k largest, ties to the lower index) in
//   index order, weights exp((z_j - z_max) / T) summed in float64 in that order; the
//   token is the first candidate whose running sum exceeds u * total.
#pragma once
#include <cstdint>

namespace shears {

struct SampleOptions {
  double temperature = 0.0;  // >= 0, finite
  int64_t top_k = 0;         // 0: every token
};

// out[r] = the token drawn from row r with u[r]. Throws E_RANGE on bad options or u,
// E_NONFINITE when a row has a NaN or +inf logit (or no finite one).
void sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SampleOptions& o, const double* u, int32_t* out);

}  // namespace shears
