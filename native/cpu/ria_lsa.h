// Linear sum assignment (the Hungarian method with potentials, O(n^3)): RIA's channel
// permutation uses it as the reference code uses scipy's linear_sum_assignment.
#pragma once
#include <cstddef>
#include <vector>

namespace shears {

// value: n x n, row-major. Returns col[i], the column assigned to row i, so that the sum
// of value[i][col[i]] is maximal. Deterministic (no randomness, fixed scan order).
std::vector<size_t> max_assignment(const double* value, size_t n);

}  // namespace shears
