// Host-side launchers of the CUDA kernels (one kernel file each, see the .cu files).
// Every launcher only enqueues work on `stream` and checks the launch; pointers are
// device memory unless named host_*. Plain C++ (no N-API) so both nvcc and g++ read it.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace shears {
namespace cuda {

// How scores are computed (native/cpu/score.cc): mode 0: |w| (p=1, q=0); mode 1:
// float |w|*a (p=1, q=1); mode 2: double |w|^p * a^q rounded once to float.
struct ScoreSpec {
  int mode = 0;
  double p = 1.0, q = 0.0;
  const float* act = nullptr;  // device, cols floats; null unless q != 0
};
ScoreSpec make_score_spec(double p, double q, const float* act_dev);

// dtype: 0 f32, 1 f16, 2 bf16 (shears::DType values).

// score.cu: scores of a whole matrix; first_bad gets atomicMin of the flat index of
// every non-finite weight (initialize it to ~0ull).
void launch_score(const void* w, int dtype, int64_t rows, int64_t cols, ScoreSpec sp, float* scores,
                  unsigned long long* first_bad, int sms, cudaStream_t stream);

// find_nan.cu: first_nan = min flat index of a NaN score (initialize to ~0ull).
void launch_find_nan(const float* scores, size_t n, unsigned long long* first_nan, int sms, cudaStream_t stream);

// select_row.cu: prunes exactly k of every row (k == 0 keeps all, k >= cols prunes all), ties lower column
// first. Reads scores, or (fused, scores == null) scores the row from w into a
// per-block scratch row of `cols` floats (scratch: grid_blocks * cols floats) and
// reports non-finite weights through first_bad. Keep bits are ORed into `words`
// (zeroed before). Returns the grid size to use for scratch sizing via
// select_rows_grid().
int select_rows_grid(int64_t rows, int sms);
void launch_select_rows(const float* scores, const void* w, int dtype, ScoreSpec sp, int64_t rows, int64_t cols,
                        uint32_t k, float* scratch, uint32_t* words, unsigned long long* first_bad, int grid,
                        cudaStream_t stream);

// select_nm.cu: N:M per row (trailing groups of r < m keep min(n, r)); fused like above
// when scores == null. Keep bits are ORed into `words` (zeroed before).
void launch_select_nm(const float* scores, const void* w, int dtype, ScoreSpec sp, int64_t rows, int64_t cols, int n,
                      int m, uint32_t* words, unsigned long long* first_bad, cudaStream_t stream);

// select_topk.cu: radix selection of the k smallest keys over a sequence of arrays.
struct RadixState {
  uint32_t prefix;           // key bits chosen so far
  uint32_t prefix_mask;      // which bits of prefix are chosen
  unsigned long long rank;   // 1-based rank of the target among keys matching prefix
};
constexpr int kTopkTile = 2048;  // elements per tile of the tie-ranking passes
// One histogram pass over n keys matching the state's prefix: digit = (key >> shift)
// masked to `bits` bits, counted into hist (1 << bits counters, zeroed before).
void launch_radix_hist(const float* scores, size_t n, const RadixState* st, int shift, int bits,
                       unsigned long long* hist, int sms, cudaStream_t stream);
// Picks the digit holding the target rank, updates the state and zeroes hist.
void launch_radix_pick(unsigned long long* hist, int shift, int bits, RadixState* st, cudaStream_t stream);
// counts[t] = keys equal to the state's prefix (the threshold T) in tile t of the array.
void launch_count_eq(const float* scores, size_t n, const RadixState* st, uint32_t* counts, cudaStream_t stream);
// offsets = exclusive prefix sum of counts (n entries).
void launch_scan_counts(const uint32_t* counts, size_t n, unsigned long long* offsets, cudaStream_t stream);
// Keep bits of one array: pruned iff key < T, or key == T and its rank among the keys
// equal to T (whole sequence order, via offsets per tile) < the state's rank.
void launch_topk_mask(const float* scores, size_t n, const RadixState* st, const unsigned long long* offsets,
                      uint32_t* words, cudaStream_t stream);

// apply_mask.cu: zeroes w elements whose keep bit is 0.
void launch_apply_mask(void* w, int dtype, size_t n, const uint32_t* words, int sms, cudaStream_t stream);

// count_pruned.cu: pruned[r] = number of 0 bits among bits [r*cols, (r+1)*cols).
void launch_count_pruned(const uint32_t* words, int64_t rows, int64_t cols, uint32_t* pruned, cudaStream_t stream);

// column_stats.cu: per column, in double, rows in order (same sums as the CPU):
// sum, sum of squares, count of |x| > threshold (if exceed), first row with a
// non-finite value (-1 if none).
void launch_column_stats(const float* x, int64_t rows, int64_t cols, float threshold, double* sum, double* sum_sq,
                         double* exceed, long long* first_bad_row, cudaStream_t stream);

// probe.cu: whether this build's kernels can run on the current device.
cudaError_t probe_kernel_image();

}  // namespace cuda
}  // namespace shears
