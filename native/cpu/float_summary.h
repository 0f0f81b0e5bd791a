// Sum, maximum and non-finite count of a float32 array (e.g. a Fisher diagonal held in
// scratch pages, summarized for a report without a pass in JavaScript).
#pragma once
#include <cstddef>

namespace shears {

struct FloatSummary {
  double sum = 0.0;  // over the finite values
  double max = 0.0;  // of the finite values; 0 when there is none
  size_t finite = 0;
  size_t nonfinite = 0;
};

// Chunk results combined in chunk order: the same bits for any thread count.
FloatSummary float_summary(const float* x, size_t n);

}  // namespace shears
