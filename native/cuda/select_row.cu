// Per-row selection of exactly k lowest scores, one thread block per row (blocks loop
// over rows). CPU reference: native/cpu/select_row.cc (select_row_k): the k-th smallest
// order key T is found exactly, keys < T are pruned and, among keys == T, the first
// (k - #keys<T) in column order. Here T comes from four 8-bit radix histogram passes
// in shared memory; tie ranks come from a block scan over the row in column order.
// Fused mode (scores == null, native/cpu/cpu_backend.cc prune): the block scores its
// row into a scratch row first and reports the first non-finite weight instead.
#include <climits>

#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

namespace {
constexpr int kThreads = 256;  // one histogram bin per thread
constexpr int kWarps = kThreads / 32;
}  // namespace

__global__ void __launch_bounds__(kThreads) select_rows_kernel(const float* scores, const void* w, int dtype,
                                                              ScoreSpec sp, int64_t rows, int64_t cols, uint32_t k,
                                                              float* scratch, uint32_t* words,
                                                              unsigned long long* first_bad) {
  __shared__ uint32_t hist[kThreads];
  __shared__ uint32_t warp_sums[kWarps];
  __shared__ uint32_t s_digit, s_below;
  __shared__ unsigned long long s_bad;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const uint32_t n = static_cast<uint32_t>(cols);

  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const size_t row0 = static_cast<size_t>(r) * static_cast<size_t>(cols);
    const float* row;
    __syncthreads();  // the previous row is finished with the shared state
    if (scores) {
      row = scores + row0;
    } else {
      float* buf = scratch + static_cast<size_t>(blockIdx.x) * static_cast<size_t>(cols);
      if (tid == 0) s_bad = ULLONG_MAX;
      __syncthreads();
      for (uint32_t j = tid; j < n; j += kThreads) {
        float x = load_w(w, dtype, row0 + j);
        if (!finite_bits(x)) atomicMin(&s_bad, static_cast<unsigned long long>(j));
        else buf[j] = score_one(x, sp, j);
      }
      __syncthreads();
      if (s_bad != ULLONG_MAX) {  // the whole operation fails; skip this row
        if (tid == 0) atomicMin(first_bad, row0 + s_bad);
        continue;
      }
      row = buf;
    }

    if (k == 0 || k >= n) {  // keep all / prune all (select_row_k's early exits)
      if (k == 0)
        for (uint32_t base = 0; base < n; base += kThreads) {
          uint32_t keep = __ballot_sync(0xffffffffu, base + tid < n);
          if (lane == 0) or_bits32(words, row0 + base + static_cast<uint32_t>(warp) * 32u, keep);
        }
      continue;
    }

    // Threshold key T (k-th smallest) and ties = how many keys equal to T are pruned.
    uint32_t prefix = 0, pmask = 0, rank = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
      hist[tid] = 0;
      __syncthreads();
      for (uint32_t j = tid; j < n; j += kThreads) {
        uint32_t key = order_key(row[j]);
        if ((key & pmask) == prefix) atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
      }
      __syncthreads();
      uint32_t c = hist[tid], total;
      uint32_t below = block_exclusive_scan<uint32_t, kWarps>(c, warp_sums, &total);
      if (below < rank && rank <= below + c) {  // exactly one bin holds the target rank
        s_digit = static_cast<uint32_t>(tid);
        s_below = below;
      }
      __syncthreads();
      prefix |= s_digit << shift;
      pmask |= 0xffu << shift;
      rank -= s_below;
    }
    const uint32_t T = prefix, ties = rank;

    // Mask in column order: ranks of the keys equal to T decide which ties go.
    uint32_t seen = 0;
    for (uint32_t base = 0; base < n; base += kThreads) {
      uint32_t j = base + tid;
      bool in = j < n;
      uint32_t key = in ? order_key(row[j]) : 0u;
      bool eq = in && key == T;
      uint32_t tile_eq;
      uint32_t eq_rank = seen + block_exclusive_scan<uint32_t, kWarps>(eq ? 1u : 0u, warp_sums, &tile_eq);
      bool pruned = key < T || (eq && eq_rank < ties);
      uint32_t keep = __ballot_sync(0xffffffffu, in && !pruned);
      if (lane == 0) or_bits32(words, row0 + base + static_cast<uint32_t>(warp) * 32u, keep);
      seen += tile_eq;
    }
  }
}

int select_rows_grid(int64_t rows, int sms) {
  int64_t cap = static_cast<int64_t>(sms > 0 ? sms : 1) * 8;
  return static_cast<int>(rows < cap ? (rows > 0 ? rows : 1) : cap);
}

void launch_select_rows(const float* scores, const void* w, int dtype, ScoreSpec sp, int64_t rows, int64_t cols,
                        uint32_t k, float* scratch, uint32_t* words, unsigned long long* first_bad, int grid,
                        cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  select_rows_kernel<<<grid, kThreads, 0, stream>>>(scores, w, dtype, sp, rows, cols, k, scratch, words, first_bad);
  check_launch("select_rows_kernel");
}

}  // namespace cuda
}  // namespace shears
