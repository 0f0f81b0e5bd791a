// Dense float64 linear algebra for SparseGPT: a multithreaded C -= A*B, a blocked
// Cholesky factorization, the inverse of a lower triangular matrix, and the upper
// Cholesky factor of an inverse. All matrices are row-major with an explicit
// leading dimension (elements between consecutive rows).
//
// Reference semantics (plain loops):
//   gemm_sub:        C[i][j] -= sum_k A[i][k] * B[k][j]
//   cholesky_lower:  A = L L^T, L lower with positive diagonal, written over A's lower triangle
//   invert_lower:    L := L^-1 (lower triangular; the upper triangle is set to zero)
//   upper_cholesky_of_inverse: U upper with positive diagonal and H^-1 = U^T U
#pragma once
#include <cstddef>

// Hot loops are compiled twice: for the baseline ISA (portable prebuilds) and with
// AVX2+FMA, chosen at run time by core/cpu_features (has_avx2_fma()). (GCC's target_clones("arch=...")
// dispatches on the exact CPU model, not on features, so it is not used.)
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SHEARS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SHEARS_HAS_AVX2_VARIANT 1
#else
#define SHEARS_TARGET_AVX2
#define SHEARS_HAS_AVX2_VARIANT 0
#endif

#include <cstring>

namespace shears {
namespace linalg {

// 32-byte vectors (GCC/Clang vector extensions): AVX registers in the AVX2 clones,
// pairs of SSE registers in the baseline ones. Register tiles are written with them
// so that the accumulators reliably stay in registers.
// The helpers are always inlined, so no vector crosses a call boundary: GCC's note
// about the ABI of 32-byte vectors without AVX does not apply (silenced where used).
#define SHEARS_VEC_INLINE inline __attribute__((always_inline))
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef double v4d __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
SHEARS_VEC_INLINE v4d load4(const double* p) {
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
SHEARS_VEC_INLINE v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
SHEARS_VEC_INLINE void store4(double* p, v4d v) { std::memcpy(p, &v, sizeof v); }
SHEARS_VEC_INLINE void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// C[M x N] -= A[M x K] * B[K x N]. Multithreaded over tiles of C; each element's sum
// runs in a fixed order (deterministic for a given ISA clone). With lower_only, C is
// the square trailing part of a symmetric matrix and tiles wholly above its diagonal
// (every column > every row) are skipped.
void gemm_sub(size_t M, size_t N, size_t K, const double* A, size_t lda, const double* B, size_t ldb, double* C,
              size_t ldc, bool lower_only = false);

// In-place lower Cholesky of the n x n symmetric matrix in a (lower triangle read;
// the strict upper triangle is left as scratch). Returns n on success, else the index
// of the first pivot that is not positive and finite (a is then partly overwritten).
size_t cholesky_lower(double* a, size_t n);

// In-place inverse of the lower triangular n x n matrix a (upper triangle ignored and
// zeroed). The diagonal must be non-zero (true for a Cholesky factor).
void invert_lower(double* a, size_t n);

// In place: h (n x n, symmetric positive definite, full storage) becomes the upper
// triangular U with positive diagonal such that H^-1 = U^T U (zeros below).
// Route: Cholesky of the index-reversed H gives H = V V^T with V upper, so that
// H^-1 = (V^-1)^T V^-1 and U = V^-1: one factorization and one triangular inverse,
// no explicit H^-1 (more stable than factoring a computed inverse). Reversing both
// indices of a row-major square matrix is reversing its flat array.
// Returns n on success, else the index (in h's order) where H is not positive
// definite; h is then overwritten with scratch.
size_t upper_cholesky_of_inverse(double* h, size_t n);

}  // namespace linalg
}  // namespace shears
