// Deep Compression's weight sharing (Han et al. 2016): the kept weights of one matrix are
// clustered into k = 2^bits shared values by 1-D k-means with linear initialization
// (centroids evenly spaced between the smallest and the largest kept weight), and each
// kept weight is replaced by its cluster's value, rounded to the matrix's dtype. Pruned
// weights (keep bit clear) are neither read nor written.
//
// In one dimension every cluster is a contiguous range of the sorted values, so Lloyd's
// iterations run exactly on one sorted copy: an assignment step is k - 1 binary searches
// for the midpoints between neighbouring centroids, an update step k differences of
// prefix sums. The result does not depend on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/matrix_view.h"

namespace shears {

struct KmeansResult {
  /** Kept weights clustered. */
  size_t kept = 0;
  /** Assignment steps run; converged: the last one changed no assignment. */
  int iterations = 0;
  bool converged = false;
  /** Sum of squared errors over the kept weights: at the linear initialization, at the final
   * centroids (both unrounded, in double), and of the values written in the matrix's dtype. */
  double sse_initial = 0, sse_final = 0, sse_written = 0;
  /** k values each: the final centroids (double), the values written (the dtype's, as float),
   * and the kept weights per cluster (an empty cluster keeps its centroid and writes nothing). */
  std::vector<double> centroids;
  std::vector<float> written;
  std::vector<size_t> counts;
  /** Entries of Deep Compression's relative-index form: the kept weights plus the filler
   * zeros inserted where the distance to the previous kept weight (row-major, across rows)
   * exceeds 2^index_bits. */
  size_t relative_entries = 0;
};

// Clusters the weights of w whose bit in `keep` (ceil(rows*cols/8) bytes, bit i = element i,
// 1 = kept) is set, and writes their shared values into w in place. bits in [1, 8];
// max_iterations >= 1 bounds the assignment steps; index_bits in [1, 16] sizes the relative
// indices counted in relative_entries. Throws kNonFinite on a non-finite kept weight
// (w is then unchanged).
KmeansResult kmeans_cluster(const MatrixView& w, const uint8_t* keep, int bits, int max_iterations, int index_bits);

}  // namespace shears
