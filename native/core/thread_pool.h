// One process-wide pool of worker threads, sized to the machine (SHEARS_THREADS
// overrides). parallel_for splits [0, n) into chunks whose boundaries depend only
// on n and grain, never on the number of threads, so that reductions done per
// chunk and combined in chunk order give the same bits on every machine.
// The calling thread works too, and several callers (several libuv workers running
// shears ops at once) may use the pool concurrently.
#pragma once
#include <cstddef>
#include <functional>

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

// A grain that gives each thread a few chunks (load balance) but not fewer than
// min_grain items per chunk. It depends on the thread count: use it for work whose
// result does not depend on chunk boundaries (independent rows), not for reductions.
// Rounded up to a multiple of `multiple`.
size_t balanced_grain(size_t n, size_t min_grain, size_t multiple = 1);

}  // namespace shears
