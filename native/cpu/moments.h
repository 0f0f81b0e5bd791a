// Per-weight gradient moments of the gradient methods: sum += g, sum_sq += g^2, elementwise.
#pragma once
#include <cstddef>

namespace shears {

// Either accumulator may be null. Chunks run on the thread pool; each element is touched
// by one thread only, so the result does not depend on the thread count.
void accumulate_moments(const float* g, size_t n, float* sum, float* sum_sq);

}  // namespace shears
