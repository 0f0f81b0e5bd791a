#include "cpu/transpose.h"

#include <algorithm>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace shears {

namespace {

constexpr int64_t kBlock = 32;  // square blocks: both sides stay in cache

void block(const void* src, DType t, size_t offset, int64_t lds, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* dst,
           int64_t ldd, float* row) {
  for (int64_t r = r0; r < r1; ++r) {
    to_f32(src, t, offset + static_cast<size_t>(r * lds + c0), static_cast<size_t>(c1 - c0), row);
    for (int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = row[c - c0];
  }
}

}  // namespace

void transpose_to_f32(const void* src, DType t, size_t offset, int64_t lds, int64_t rows, int64_t cols, float* dst,
                      int64_t ldd, bool parallel) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t rb = (rows + kBlock - 1) / kBlock, cb = (cols + kBlock - 1) / kBlock;
  auto run = [&](size_t b0, size_t b1) {
    float row[kBlock];
    for (size_t b = b0; b < b1; ++b) {
      const int64_t i = static_cast<int64_t>(b) / cb, j = static_cast<int64_t>(b) % cb;
      block(src, t, offset, lds, i * kBlock, std::min(rows, (i + 1) * kBlock), j * kBlock, std::min(cols, (j + 1) * kBlock),
            dst, ldd, row);
    }
  };
  const size_t blocks = static_cast<size_t>(rb * cb);
  if (!parallel) return run(0, blocks);
  parallel_for(blocks, 16, [&](size_t, size_t b0, size_t b1) { run(b0, b1); });
}

}  // namespace shears
