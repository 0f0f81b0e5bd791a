#include "cpu/linalg.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // see linalg.h: vectors never cross calls
#endif

namespace shears {
namespace linalg {

namespace {

// Register tile MR x NR, cache tiles MC x NC of C, K in slices of KC. Each KC x NC
// slice of B is packed into contiguous KC x NR micro-panels (a panel stays in L1 while
// the tile's rows stream past it; unpacked, rows of B a power-of-two apart would all
// fall into the same L1 sets).
constexpr size_t MR = 4, NR = 8, MC = 64, NC = 128, KC = 256;

// C[0..MR)[0..nr) -= A[0..MR)[0..K) * P, with P packed K x NR (zero padded past nr).
inline __attribute__((always_inline)) void micro_full(size_t K, const double* A, size_t lda, const double* P,
                                                      double* C, size_t ldc, size_t nr) {
  v4d acc[MR][2] = {};
  for (size_t k = 0; k < K; ++k) {
    const v4d b0 = load4(P + k * NR), b1 = load4(P + k * NR + 4);
    for (size_t r = 0; r < MR; ++r) {
      const double a = A[r * lda + k];
      acc[r][0] += b0 * a;
      acc[r][1] += b1 * a;
    }
  }
  for (size_t r = 0; r < MR; ++r) {
    double* c = C + r * ldc;
    if (nr == NR) {
      store4(c, load4(c) - acc[r][0]);
      store4(c + 4, load4(c + 4) - acc[r][1]);
    } else {
      double t[NR];
      store4(t, acc[r][0]);
      store4(t + 4, acc[r][1]);
      for (size_t j = 0; j < nr; ++j) c[j] -= t[j];
    }
  }
}

// Fewer than MR rows: the same sums in the same order.
inline void micro_edge(size_t mr, size_t nr, size_t K, const double* A, size_t lda, const double* P, double* C,
                       size_t ldc) {
  double acc[MR][NR] = {};
  for (size_t k = 0; k < K; ++k)
    for (size_t r = 0; r < mr; ++r) {
      const double a = A[r * lda + k];
      for (size_t c = 0; c < NR; ++c) acc[r][c] += a * P[k * NR + c];
    }
  for (size_t r = 0; r < mr; ++r)
    for (size_t c = 0; c < nr; ++c) C[r * ldc + c] -= acc[r][c];
}

inline __attribute__((always_inline)) void gemm_tile_impl(size_t m, size_t n, size_t K, const double* A, size_t lda,
                                                          const double* B, size_t ldb, double* C, size_t ldc) {
  thread_local std::vector<double> packed;
  const size_t ng = (n + NR - 1) / NR;
  packed.resize(ng * KC * NR);
  for (size_t k0 = 0; k0 < K; k0 += KC) {
    const size_t kc = std::min(KC, K - k0);
    for (size_t g = 0; g < ng; ++g) {
      const size_t nr = std::min(NR, n - g * NR);
      double* p = packed.data() + g * kc * NR;
      for (size_t k = 0; k < kc; ++k) {
        const double* b = B + (k0 + k) * ldb + g * NR;
        for (size_t c = 0; c < NR; ++c) p[k * NR + c] = c < nr ? b[c] : 0.0;
      }
    }
    for (size_t g = 0; g < ng; ++g) {
      const size_t nr = std::min(NR, n - g * NR);
      const double* p = packed.data() + g * kc * NR;
      for (size_t i = 0; i < m; i += MR) {
        const size_t mr = std::min(MR, m - i);
        const double* a = A + i * lda + k0;
        double* c = C + i * ldc + g * NR;
        if (mr == MR)
          micro_full(kc, a, lda, p, c, ldc, nr);
        else
          micro_edge(mr, nr, kc, a, lda, p, c, ldc);
      }
    }
  }
}

void gemm_tile_base(size_t m, size_t n, size_t K, const double* A, size_t lda, const double* B, size_t ldb, double* C,
                    size_t ldc) {
  gemm_tile_impl(m, n, K, A, lda, B, ldb, C, ldc);
}

SHEARS_TARGET_AVX2 void gemm_tile_avx2(size_t m, size_t n, size_t K, const double* A, size_t lda, const double* B,
                                       size_t ldb, double* C, size_t ldc) {
  gemm_tile_impl(m, n, K, A, lda, B, ldb, C, ldc);
}

void gemm_tile(size_t m, size_t n, size_t K, const double* A, size_t lda, const double* B, size_t ldb, double* C,
               size_t ldc) {
  if (has_avx2_fma())
    gemm_tile_avx2(m, n, K, A, lda, B, ldb, C, ldc);
  else
    gemm_tile_base(m, n, K, A, lda, B, ldb, C, ldc);
}

}  // namespace

void gemm_sub(size_t M, size_t N, size_t K, const double* A, size_t lda, const double* B, size_t ldb, double* C,
              size_t ldc, bool lower_only) {
  if (M == 0 || N == 0 || K == 0) return;
  const size_t tm = (M + MC - 1) / MC, tn = (N + NC - 1) / NC;
  parallel_for(tm * tn, 1, [&](size_t, size_t b, size_t e) {
    for (size_t t = b; t < e; ++t) {
      const size_t i0 = (t / tn) * MC, j0 = (t % tn) * NC;
      const size_t m = std::min(MC, M - i0), n = std::min(NC, N - j0);
      if (lower_only && j0 >= i0 + m) continue;  // wholly above the diagonal
      gemm_tile(m, n, K, A + i0 * lda, lda, B + j0, ldb, C + i0 * ldc + j0, ldc);
    }
  });
}

size_t cholesky_lower(double* a, size_t n) {
  constexpr size_t nb = 64;
  std::vector<double> pt;
  for (size_t k0 = 0; k0 < n; k0 += nb) {
    const size_t k1 = std::min(n, k0 + nb), b = k1 - k0;
    // Diagonal block, unblocked (earlier block columns were already subtracted).
    for (size_t j = k0; j < k1; ++j) {
      double* rj = a + j * n;
      double d = rj[j];
      for (size_t p = k0; p < j; ++p) d -= rj[p] * rj[p];
      if (!(d > 0.0) || !std::isfinite(d)) return j;
      const double l = std::sqrt(d);
      rj[j] = l;
      for (size_t i = j + 1; i < k1; ++i) {
        double* ri = a + i * n;
        double s = ri[j];
        for (size_t p = k0; p < j; ++p) s -= ri[p] * rj[p];
        ri[j] = s / l;
      }
    }
    if (k1 == n) break;
    const size_t m = n - k1;
    // Panel below: rows solve x L_kk^T = a_row, independently.
    parallel_for(m, balanced_grain(m, 16), [&](size_t, size_t rb, size_t re) {
      for (size_t ii = rb; ii < re; ++ii) {
        double* ri = a + (k1 + ii) * n;
        for (size_t j = k0; j < k1; ++j) {
          const double* rj = a + j * n;
          double s = ri[j];
          for (size_t p = k0; p < j; ++p) s -= ri[p] * rj[p];
          ri[j] = s / rj[j];
        }
      }
    });
    // Trailing update A22 -= P P^T (lower tiles only), with P^T packed contiguously.
    pt.resize(b * m);
    for (size_t ii = 0; ii < m; ++ii)
      for (size_t p = 0; p < b; ++p) pt[p * m + ii] = a[(k1 + ii) * n + k0 + p];
    gemm_sub(m, m, b, a + k1 * n + k0, n, pt.data(), m, a + k1 * n + k1, n, true);
  }
  return n;
}

void invert_lower(double* a, size_t n) {
  parallel_for(n, balanced_grain(n, 64), [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) std::fill(a + i * n + i + 1, a + (i + 1) * n, 0.0);
  });
  constexpr size_t nb = 64;
  std::vector<double> d(nb * nb), t;
  for (size_t i0 = 0; i0 < n; i0 += nb) {
    const size_t b = std::min(nb, n - i0);
    // D = L_II^-1 by forward substitution, column by column.
    std::fill(d.begin(), d.end(), 0.0);
    for (size_t j = 0; j < b; ++j) {
      d[j * nb + j] = 1.0 / a[(i0 + j) * n + i0 + j];
      for (size_t i = j + 1; i < b; ++i) {
        const double* li = a + (i0 + i) * n + i0;
        double s = 0.0;
        for (size_t p = j; p < i; ++p) s += li[p] * d[p * nb + j];
        d[i * nb + j] = -s / li[i];
      }
    }
    if (i0 > 0) {
      // X_I,0:i0 = -D (L_I,0:i0 X_0:i0,0:i0); X_0:i0 is already in place (upper zeros).
      t.assign(b * i0, 0.0);
      gemm_sub(b, i0, i0, a + i0 * n, n, a, n, t.data(), i0);
      parallel_for(i0, 256, [&](size_t, size_t cb, size_t ce) {
        for (size_t i = 0; i < b; ++i) {
          double* out = a + (i0 + i) * n;
          for (size_t c = cb; c < ce; ++c) out[c] = 0.0;
          for (size_t p = 0; p <= i; ++p) {
            const double dp = d[i * nb + p];
            const double* tp = t.data() + p * i0;
            for (size_t c = cb; c < ce; ++c) out[c] += dp * tp[c];
          }
        }
      });
    }
    for (size_t i = 0; i < b; ++i)
      for (size_t j = 0; j <= i; ++j) a[(i0 + i) * n + i0 + j] = d[i * nb + j];
  }
}

namespace {
void reverse_flat(double* a, size_t len) {
  const size_t half = len / 2;
  parallel_for(half, 1 << 16, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) std::swap(a[i], a[len - 1 - i]);
  });
}
}  // namespace

size_t upper_cholesky_of_inverse(double* h, size_t n) {
  reverse_flat(h, n * n);
  const size_t bad = cholesky_lower(h, n);
  if (bad < n) return n - 1 - bad;
  invert_lower(h, n);  // lower, zeros above
  reverse_flat(h, n * n);  // upper, zeros below
  return n;
}

}  // namespace linalg
}  // namespace shears
