#include "cpu/ria_lsa.h"

#include <algorithm>
#include <limits>

namespace shears {

// The shortest-augmenting-path form of the Hungarian method on cost = -value: rows are
// added one at a time; u, v are the dual potentials, way[] the alternating path back.
std::vector<size_t> max_assignment(const double* value, size_t n) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), minv(n + 1);
  std::vector<size_t> p(n + 1, 0), way(n + 1, 0);  // p[j]: row (1-based) matched to column j; 0 = free
  std::vector<char> used(n + 1);
  auto cost = [&](size_t i, size_t j) { return -value[(i - 1) * n + (j - 1)]; };
  for (size_t i = 1; i <= n; ++i) {
    p[0] = i;
    size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const size_t i0 = p[j0];
      double delta = inf;
      size_t j1 = 0;
      for (size_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0, j) - u[i0] - v[j];
        if (cur < minv[j]) minv[j] = cur, way[j] = j0;
        if (minv[j] < delta) delta = minv[j], j1 = j;
      }
      for (size_t j = 0; j <= n; ++j) {
        if (used[j]) u[p[j]] += delta, v[j] -= delta;
        else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<size_t> col(n);
  for (size_t j = 1; j <= n; ++j) col[p[j] - 1] = j - 1;
  return col;
}

}  // namespace shears
