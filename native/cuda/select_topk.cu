// k lowest scores across whole matrices (matrix and global granularity), over global
// memory. CPU reference: native/cpu/select_topk.cc (select_k_smallest): the exact
// threshold key T and the number of ties to prune come from radix histogram passes
// (here 11 + 11 + 10 bits); ties are pruned in sequence order (matrix, then row-major
// index) using per-tile counts of keys == T and their exclusive prefix sum.
#include "cuda/cuda_check.h"
#include "cuda/device_common.cuh"

namespace shears {
namespace cuda {

namespace {
constexpr int kHistThreads = 256;
constexpr int kMaxBins = 2048;
constexpr int kTileThreads = 256;
constexpr int kTileRounds = kTopkTile / kTileThreads;
constexpr int kPickThreads = 1024;
}  // namespace

__global__ void radix_hist_kernel(const float* s, size_t n, const RadixState* st, int shift, int bits,
                                  unsigned long long* hist) {
  __shared__ uint32_t h[kMaxBins];
  const uint32_t nbins = 1u << bits;
  for (uint32_t i = threadIdx.x; i < nbins; i += blockDim.x) h[i] = 0;
  __syncthreads();
  const uint32_t prefix = st->prefix, pmask = st->prefix_mask;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t key = order_key(s[i]);
    if ((key & pmask) == prefix) atomicAdd(&h[(key >> shift) & (nbins - 1)], 1u);
  }
  __syncthreads();
  for (uint32_t i = threadIdx.x; i < nbins; i += blockDim.x)
    if (h[i]) atomicAdd(&hist[i], static_cast<unsigned long long>(h[i]));
}

// One block: finds the digit whose bin holds the target rank.
__global__ void __launch_bounds__(kPickThreads) radix_pick_kernel(unsigned long long* hist, int shift, int bits,
                                                                  RadixState* st) {
  __shared__ unsigned long long warp_sums[kPickThreads / 32];
  const uint32_t nbins = 1u << bits;
  const uint32_t per = (nbins + kPickThreads - 1) / kPickThreads;  // bins per thread (1 or 2)
  const uint32_t b0 = threadIdx.x * per;
  unsigned long long c[2] = {0, 0}, mine = 0;
  for (uint32_t i = 0; i < per; ++i)
    if (b0 + i < nbins) mine += (c[i] = hist[b0 + i]);
  unsigned long long total;
  unsigned long long below = block_exclusive_scan<unsigned long long, kPickThreads / 32>(mine, warp_sums, &total);
  const unsigned long long rank = st->rank;
  __syncthreads();  // every thread has read the rank before it changes
  for (uint32_t i = 0; i < per; ++i) {
    if (b0 + i < nbins && below < rank && rank <= below + c[i]) {
      st->prefix |= (b0 + i) << shift;
      st->prefix_mask |= (nbins - 1) << shift;
      st->rank = rank - below;
    }
    below += c[i];
  }
  for (uint32_t i = 0; i < per; ++i)
    if (b0 + i < nbins) hist[b0 + i] = 0;
}

__global__ void __launch_bounds__(kTileThreads) count_eq_kernel(const float* s, size_t n, const RadixState* st,
                                                               uint32_t* counts) {
  __shared__ uint32_t warp_sums[kTileThreads / 32];
  const uint32_t T = st->prefix;
  const size_t base = static_cast<size_t>(blockIdx.x) * kTopkTile;
  uint32_t c = 0;
  for (int i = 0; i < kTileRounds; ++i) {
    size_t j = base + static_cast<size_t>(i) * kTileThreads + threadIdx.x;
    c += (j < n && order_key(s[j]) == T) ? 1u : 0u;
  }
  uint32_t total;
  block_exclusive_scan<uint32_t, kTileThreads / 32>(c, warp_sums, &total);
  if (threadIdx.x == 0) counts[blockIdx.x] = total;
}

// One block walks the counts in chunks of kPickThreads, carrying the running sum.
__global__ void __launch_bounds__(kPickThreads) scan_counts_kernel(const uint32_t* counts, size_t n,
                                                                   unsigned long long* offsets) {
  __shared__ unsigned long long warp_sums[kPickThreads / 32];
  unsigned long long carry = 0;
  for (size_t base = 0; base < n; base += kPickThreads) {
    size_t i = base + threadIdx.x;
    unsigned long long v = i < n ? counts[i] : 0ull, total;
    unsigned long long ex = block_exclusive_scan<unsigned long long, kPickThreads / 32>(v, warp_sums, &total);
    if (i < n) offsets[i] = carry + ex;
    carry += total;
  }
}

__global__ void __launch_bounds__(kTileThreads) topk_mask_kernel(const float* s, size_t n, const RadixState* st,
                                                                const unsigned long long* offsets, uint32_t* words) {
  __shared__ uint32_t warp_sums[kTileThreads / 32];
  const uint32_t T = st->prefix;
  const unsigned long long ties = st->rank;
  const size_t base = static_cast<size_t>(blockIdx.x) * kTopkTile;
  unsigned long long seen = offsets[blockIdx.x];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int i = 0; i < kTileRounds; ++i) {
    size_t j0 = base + static_cast<size_t>(i) * kTileThreads;
    size_t j = j0 + threadIdx.x;
    bool in = j < n;
    uint32_t key = in ? order_key(s[j]) : 0u;
    bool eq = in && key == T;
    uint32_t round_eq;
    uint32_t r = block_exclusive_scan<uint32_t, kTileThreads / 32>(eq ? 1u : 0u, warp_sums, &round_eq);
    bool pruned = key < T || (eq && seen + r < ties);
    uint32_t keep = __ballot_sync(0xffffffffu, in && !pruned);
    // Tiles and warps start on multiples of 32 elements: each warp owns one word.
    size_t wj = j0 + static_cast<size_t>(warp) * 32;
    if (lane == 0 && wj < n) words[wj >> 5] = keep;
    seen += round_eq;
  }
}

void launch_radix_hist(const float* scores, size_t n, const RadixState* st, int shift, int bits,
                       unsigned long long* hist, int sms, cudaStream_t stream) {
  if (n == 0) return;
  radix_hist_kernel<<<grid_for(n, kHistThreads, sms, 4), kHistThreads, 0, stream>>>(scores, n, st, shift, bits, hist);
  check_launch("radix_hist_kernel");
}

void launch_radix_pick(unsigned long long* hist, int shift, int bits, RadixState* st, cudaStream_t stream) {
  radix_pick_kernel<<<1, kPickThreads, 0, stream>>>(hist, shift, bits, st);
  check_launch("radix_pick_kernel");
}

static unsigned tiles(size_t n) { return static_cast<unsigned>((n + kTopkTile - 1) / kTopkTile); }

void launch_count_eq(const float* scores, size_t n, const RadixState* st, uint32_t* counts, cudaStream_t stream) {
  if (n == 0) return;
  count_eq_kernel<<<tiles(n), kTileThreads, 0, stream>>>(scores, n, st, counts);
  check_launch("count_eq_kernel");
}

void launch_scan_counts(const uint32_t* counts, size_t n, unsigned long long* offsets, cudaStream_t stream) {
  if (n == 0) return;
  scan_counts_kernel<<<1, kPickThreads, 0, stream>>>(counts, n, offsets);
  check_launch("scan_counts_kernel");
}

void launch_topk_mask(const float* scores, size_t n, const RadixState* st, const unsigned long long* offsets,
                      uint32_t* words, cudaStream_t stream) {
  if (n == 0) return;
  topk_mask_kernel<<<tiles(n), kTileThreads, 0, stream>>>(scores, n, st, offsets, words);
  check_launch("topk_mask_kernel");
}

}  // namespace cuda
}  // namespace shears
