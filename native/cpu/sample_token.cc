#include "cpu/sample_token.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"

namespace shears {
namespace {

void check_row(const float* z, int64_t vocab, int64_t row) {
  bool any_finite = false;
  for (int64_t j = 0; j < vocab; ++j) {
    if (std::isnan(z[j]) || z[j] == INFINITY)
      fail(kNonFinite, "logits row " + std::to_string(row) + " has a non-finite value (" + std::to_string(z[j]) + ") at token " +
                           std::to_string(j));
    any_finite = any_finite || std::isfinite(z[j]);
  }
  if (!any_finite) fail(kNonFinite, "logits row " + std::to_string(row) + " has no finite value");
}

int32_t argmax(const float* z, int64_t vocab) {
  int64_t best = 0;
  for (int64_t j = 1; j < vocab; ++j)
    if (z[j] > z[best]) best = j;
  return static_cast<int32_t>(best);
}

// The candidates of one row in index order: every token, or the top_k largest.
void candidates(const float* z, int64_t vocab, int64_t top_k, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(vocab));
  for (int64_t j = 0; j < vocab; ++j) idx[static_cast<size_t>(j)] = static_cast<int32_t>(j);
  if (top_k <= 0 || top_k >= vocab) return;
  // Larger logit first, the lower index on ties: a strict total order, so the set is unique.
  auto before = [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  std::nth_element(idx.begin(), idx.begin() + (top_k - 1), idx.end(), before);
  idx.resize(static_cast<size_t>(top_k));
  std::sort(idx.begin(), idx.end());
}

int32_t draw(const float* z, const std::vector<int32_t>& idx, double temperature, double u, std::vector<double>& w) {
  float zmax = -INFINITY;
  for (int32_t j : idx) zmax = std::max(zmax, z[j]);
  w.resize(idx.size());
  double total = 0.0;
  for (size_t i = 0; i < idx.size(); ++i) {
    w[i] = std::exp((static_cast<double>(z[idx[i]]) - zmax) / temperature);
    total += w[i];
  }
  const double target = u * total;
  double run = 0.0;
  for (size_t i = 0; i < idx.size(); ++i) {
    run += w[i];
    if (run > target && w[i] > 0.0) return idx[i];
  }
  // Rounding left the target at the very end: the last candidate with any weight.
  for (size_t i = idx.size(); i-- > 0;)
    if (w[i] > 0.0) return idx[i];
  return idx.front();
}

}  // namespace

void sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SampleOptions& o, const double* u, int32_t* out) {
  if (rows < 0 || vocab < 1) fail(kShapeError, "sample_tokens needs rows >= 0 and vocab >= 1");
  if (!std::isfinite(o.temperature) || o.temperature < 0.0)
    fail(kRangeError, "temperature must be a finite number >= 0, got " + std::to_string(o.temperature));
  if (o.top_k < 0) fail(kRangeError, "top_k must be >= 0 (0: every token), got " + std::to_string(o.top_k));
  const bool greedy = o.temperature == 0.0 || o.top_k == 1;
  for (int64_t r = 0; r < rows; ++r)
    if (!greedy && !(u[r] >= 0.0 && u[r] < 1.0)) fail(kRangeError, "u[" + std::to_string(r) + "] must be in [0, 1)");
  // Row by row on the calling worker: generation draws one row per step, and a
  // failure (a non-finite row) is thrown from this thread.
  std::vector<int32_t> idx;
  std::vector<double> w;
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits + r * vocab;
    check_row(z, vocab, r);
    if (greedy) {
      out[r] = argmax(z, vocab);
      continue;
    }
    candidates(z, vocab, o.top_k, idx);
    out[r] = draw(z, idx, o.temperature, u[r], w);
  }
}

}  // namespace shears
