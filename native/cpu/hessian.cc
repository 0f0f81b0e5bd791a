#include "cpu/hessian.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "cpu/linalg.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // see linalg.h: vectors never cross calls
#endif

namespace shears {

namespace {

// Tiles TB x TB of S (upper triangle), register tiles MR x NR. Rows come in chunks
// of RC, converted to T once and packed by groups of NR columns, [group][t][NR] (zero
// padded), so that a register tile reads two contiguous streams.
constexpr size_t TB = 64, MR = 4, NR = 8, RC = 256;

// S[i..i+MR)[j..j+nr) += sum_t a_t[0..MR) * b_t[0..NR): a and b point into packed groups.
inline __attribute__((always_inline)) void micro(const double* a, const double* b, size_t rc, double* s, size_t lds,
                                                 size_t mr, size_t nr) {
  linalg::v4d acc[MR][2] = {};
  for (size_t t = 0; t < rc; ++t) {
    const linalg::v4d b0 = linalg::load4(b + t * NR), b1 = linalg::load4(b + t * NR + 4);
    for (size_t r = 0; r < MR; ++r) {
      const double x = a[t * NR + r];
      acc[r][0] += b0 * x;
      acc[r][1] += b1 * x;
    }
  }
  for (size_t r = 0; r < mr; ++r) {
    double t[NR];
    linalg::store4(t, acc[r][0]);
    linalg::store4(t + 4, acc[r][1]);
    for (size_t c = 0; c < nr; ++c) s[r * lds + c] += t[c];
  }
}

inline __attribute__((always_inline)) void micro(const float* a, const float* b, size_t rc, float* s, size_t lds,
                                                 size_t mr, size_t nr) {
  linalg::v8f acc[MR] = {};
  for (size_t t = 0; t < rc; ++t) {
    const linalg::v8f bv = linalg::load8(b + t * NR);
    for (size_t r = 0; r < MR; ++r) acc[r] += bv * a[t * NR + r];
  }
  for (size_t r = 0; r < mr; ++r) {
    float t[NR];
    linalg::store8(t, acc[r]);
    for (size_t c = 0; c < nr; ++c) s[r * lds + c] += t[c];
  }
}

// One TB x TB tile of S: rows [i0, i1), columns [j0, j1) (i0, j0 multiples of NR).
template <typename T>
inline __attribute__((always_inline)) void tile_impl(const T* buf, size_t rc, size_t cols, size_t i0, size_t i1,
                                                     size_t j0, size_t j1, T* s) {
  for (size_t i = i0; i < i1; i += MR) {
    const T* a = buf + (i / NR) * rc * NR + (i % NR);
    for (size_t j = j0; j < j1; j += NR) {
      const T* b = buf + (j / NR) * rc * NR;
      micro(a, b, rc, s + i * cols + j, cols, std::min(MR, i1 - i), std::min(NR, j1 - j));
    }
  }
}

// Baseline and AVX2+FMA builds of the tile loop, chosen at run time.
template <typename T>
void tile_base(const T* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, T* s) {
  tile_impl<T>(buf, rc, cols, i0, i1, j0, j1, s);
}

template <typename T>
SHEARS_TARGET_AVX2 void tile_avx2(const T* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1,
                                  T* s) {
  tile_impl<T>(buf, rc, cols, i0, i1, j0, j1, s);
}

template <typename T>
void tile(const T* buf, size_t rc, size_t cols, size_t i0, size_t i1, size_t j0, size_t j1, T* s) {
  if (has_avx2_fma())
    tile_avx2<T>(buf, rc, cols, i0, i1, j0, j1, s);
  else
    tile_base<T>(buf, rc, cols, i0, i1, j0, j1, s);
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
  const size_t groups = (cols + NR - 1) / NR;
  std::vector<T> buf(groups * RC * NR);
  for (size_t r0 = 0; r0 < rows; r0 += RC) {
    const size_t rc = std::min(RC, rows - r0);
    parallel_for(groups, balanced_grain(groups, 4), [&](size_t, size_t b, size_t e) {
      for (size_t g = b; g < e; ++g) {
        T* dst = buf.data() + g * rc * NR;
        const size_t nc = std::min(NR, cols - g * NR);
        for (size_t t = 0; t < rc; ++t) {
          const float* src = x + (r0 + t) * cols + g * NR;
          for (size_t c = 0; c < NR; ++c) dst[t * NR + c] = c < nc ? static_cast<T>(src[c]) : T(0);
        }
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
