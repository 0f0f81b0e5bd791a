// One process-wide pool of worker threads, sized to the machine (SHEARS_THREADS
// overrides). parallel_for splits [0, n) into chunks whose boundaries depend only
// on n and grain, never on the number of threads, so that reductions done per
// chunk and combined in chunk order give the same bits on every machine.
// The calling thread works too, and several callers (several libuv workers running
// shears ops at once) may use the pool concurrently.
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

namespace shears {

// fn(chunk_index, begin, end)
using ChunkFn = std::function<void(size_t, size_t, size_t)>;

// Number of threads that take part in a parallel_for (workers + caller).
int pool_threads();
// Resize the pool (n <= 0: back to the default; at most kMaxPoolThreads). Safe while
// operations run on other threads: they finish correctly with the threads there are
// (a running parallel_for keeps its chunks; see balanced_grain for what may vary).
void set_pool_threads(int n);
inline constexpr int kMaxPoolThreads = 1024;

// Number of chunks parallel_for will use for (n, grain).
inline size_t chunk_count(size_t n, size_t grain) { return grain == 0 ? 0 : (n + grain - 1) / grain; }

// Runs fn over chunks [i*grain, min(n,(i+1)*grain)). Blocks until all are done.
// The first exception thrown by fn is rethrown here after all chunks finished.
void parallel_for(size_t n, size_t grain, const ChunkFn& fn);

// A deterministic reduction: chunk_fn(begin, end) gives each chunk's T, and the chunks'
// values are added in chunk order starting from T{}, so the result has the same bits for
// any thread count.
template <class T, class F>
T parallel_sum(size_t n, size_t grain, F chunk_fn) {
  std::vector<T> part(chunk_count(n, grain), T{});
  parallel_for(n, grain, [&](size_t c, size_t b, size_t e) { part[c] = chunk_fn(b, e); });
  T total{};
  for (const T& p : part) total += p;
  return total;
}

// A grain that gives each thread a few chunks (load balance) but not fewer than
// min_grain items per chunk. It depends on the thread count: use it for work whose
// result does not depend on chunk boundaries (independent rows), not for reductions.
// Rounded up to a multiple of `multiple`.
size_t balanced_grain(size_t n, size_t min_grain, size_t multiple = 1);

}  // namespace shears
