#include "cpu/hessian.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/linalg.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // see linalg.h: vectors never cross calls
#endif

namespace shears {

namespace {

// Tiles TB x TB of S (upper triangle), register tiles MR x NR, rows in chunks of RC
// converted to T once and shared by all tiles.
constexpr size_t TB = 64, MR = 4, NR = 8, RC = 256;

// Full register tiles: S[i..i+4][j..j+8] += sum_t x_t[i+r] * x_t[j..j+8].
inline __attribute__((always_inline)) void micro_full(const double* buf, size_t rc, size_t cols, size_t i, size_t j,
                                                      double* s) {
  using linalg::load4;
  linalg::v4d acc[MR][2] = {};
  for (size_t t = 0; t < rc; ++t) {
    const double* row = buf + t * cols;
    const linalg::v4d b0 = load4(row + j), b1 = load4(row + j + 4);
    for (size_t r = 0; r < MR; ++r) {
      const double a = row[i + r];
      acc[r][0] += b0 * a;
      acc[r][1] += b1 * a;
    }
  }
  for (size_t r = 0; r < MR; ++r) {
    double* d = s + (i + r) * cols + j;
    linalg::store4(d, load4(d) + acc[r][0]);
    linalg::store4(d + 4, load4(d + 4) + acc[r][1]);
  }
}

inline __attribute__((always_inline)) void micro_full(const float* buf, size_t rc, size_t cols, size_t i, size_t j,
                                                      float* s) {
  using linalg::load8;
  linalg::v8f acc[MR] = {};
  for (size_t t = 0; t < rc; ++t) {
    const float* row = buf + t * cols;
    const linalg::v8f b = load8(row + j);
    for (size_t r = 0; r < MR; ++r) acc[r] += b * row[i + r];
  }
  for (size_t r = 0; r < MR; ++r) {
    float* d = s + (i + r) * cols + j;
    linalg::store8(d, load8(d) + acc[r]);
  }
}

template <typename T>
inline __attribute__((always_inline)) void tile_impl(const T* buf, size_t rc, size_t cols, size_t i0, size_t i1,
                                                     size_t j0, size_t j1, T* s) {
  for (size_t i = i0; i < i1; i += MR) {
    const size_t mr = std::min(MR, i1 - i);
    for (size_t j = j0; j < j1; j += NR) {
      const size_t nr = std::min(NR, j1 - j);
      if (mr == MR && nr == NR) {
        micro_full(buf, rc, cols, i, j, s);
        continue;
      }
      T acc[MR][NR] = {};
      for (size_t t = 0; t < rc; ++t) {
        const T* row = buf + t * cols;
        for (size_t r = 0; r < mr; ++r) {
          const T a = row[i + r];
          for (size_t c = 0; c < nr; ++c) acc[r][c] += a * row[j + c];
        }
      }
      for (size_t r = 0; r < mr; ++r)
        for (size_t c = 0; c < nr; ++c) s[(i + r) * cols + j + c] += acc[r][c];
    }
  }
}

SHEARS_SIMD_CLONES
void tile_f64(const double* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, double* s) {
  tile_impl<double>(buf, rc, cols, i0, i1, j0, j1, s);
}

SHEARS_SIMD_CLONES
void tile_f32(const float* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, float* s) {
  tile_impl<float>(buf, rc, cols, i0, i1, j0, j1, s);
}

inline void tile(const double* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, double* s) {
  tile_f64(buf, rc, cols, i0, i1, j0, j1, s);
}
inline void tile(const float* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, float* s) {
  tile_f32(buf, rc, cols, i0, i1, j0, j1, s);
}

}  // namespace

size_t first_nonfinite(const float* x, size_t rows, size_t cols) {
  std::atomic<size_t> first{SIZE_MAX};
  parallel_for(rows, balanced_grain(rows, 64), [&](size_t, size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* row = x + r * cols;
      bool bad = false;
      for (size_t j = 0; j < cols; ++j) bad |= !std::isfinite(row[j]);
      if (!bad) continue;
      for (size_t j = 0; j < cols; ++j)
        if (!std::isfinite(row[j])) {
          size_t idx = r * cols + j, cur = first.load();
          while (idx < cur && !first.compare_exchange_weak(cur, idx)) {
          }
          break;
        }
      return;  // later rows of this chunk cannot be lower
    }
  });
  return first.load();
}

template <typename T>
void accumulate_xtx(const float* x, size_t rows, size_t cols, T* s) {
  if (rows == 0) return;
  const size_t nt = (cols + TB - 1) / TB;
  std::vector<std::pair<size_t, size_t>> tiles;  // (ti, tj) with ti <= tj
  for (size_t ti = 0; ti < nt; ++ti)
    for (size_t tj = ti; tj < nt; ++tj) tiles.emplace_back(ti, tj);
  std::vector<T> buf(std::min(rows, RC) * cols);
  for (size_t r0 = 0; r0 < rows; r0 += RC) {
    const size_t rc = std::min(RC, rows - r0);
    parallel_for(rc, balanced_grain(rc, 16), [&](size_t, size_t b, size_t e) {
      for (size_t t = b; t < e; ++t) {
        const float* src = x + (r0 + t) * cols;
        T* dst = buf.data() + t * cols;
        for (size_t j = 0; j < cols; ++j) dst[j] = static_cast<T>(src[j]);
      }
    });
    parallel_for(tiles.size(), 1, [&](size_t, size_t b, size_t e) {
      for (size_t k = b; k < e; ++k) {
        const size_t i0 = tiles[k].first * TB, j0 = tiles[k].second * TB;
        tile(buf.data(), rc, cols, i0, std::min(cols, i0 + TB), j0, std::min(cols, j0 + TB), s);
      }
    });
  }
  // Mirror the upper triangle (diagonal tiles also wrote some lower entries: overwritten).
  parallel_for(cols, balanced_grain(cols, 32), [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      for (size_t j = 0; j < i; ++j) s[i * cols + j] = s[j * cols + i];
  });
}

template void accumulate_xtx<double>(const float*, size_t, size_t, double*);
template void accumulate_xtx<float>(const float*, size_t, size_t, float*);

}  // namespace shears
