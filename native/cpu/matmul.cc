// The instruction-set variants of matmul.inc, chosen per call by core/cpu_features.
#include "cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHEARS_X86 1
#endif

namespace shears {

// Weight rows are widened to f32 by core/dtype's to_f32 in every variant (it uses F16C
// itself when the CPU has it), so all variants see the same floats.
static void cvt(const void* w, DType t, size_t offset, int n, float* dst) { to_f32(w, t, offset, static_cast<size_t>(n), dst); }

namespace mm_portable {
#define MM_TARGET
#define MM_VL 4
#ifdef SHEARS_X86
#define MM_BCAST(s) (vf)(_mm_set1_ps(s))
#else
#define MM_BCAST(s) (vf{s, s, s, s})
#endif
#define MM_MR 4
#define MM_CVT cvt
#include "cpu/matmul.inc"
}  // namespace mm_portable

#ifdef SHEARS_X86
namespace mm_avx2 {
#define MM_TARGET __attribute__((target("avx2,fma,f16c")))
#define MM_VL 8
#define MM_BCAST(s) (vf)(_mm256_set1_ps(s))
#define MM_MR 6
#define MM_CVT cvt
#include "cpu/matmul.inc"
}  // namespace mm_avx2

namespace mm_avx512 {
#define MM_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))
#define MM_VL 16
#define MM_BCAST(s) (vf)(_mm512_set1_ps(s))
#define MM_MR 12
#define MM_CVT cvt
#include "cpu/matmul.inc"
}  // namespace mm_avx512
#endif

namespace {

void dispatch(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, const float* bias, float* y,
              int64_t ldy, bool parallel, bool accumulate, bool wt) {
  const int64_t out = wt ? w.cols : w.rows, in = wt ? w.rows : w.cols;
  if (n <= 0 || out <= 0) return;
  if (in <= 0) {
    // An empty input dimension: y is the bias (or zero), or unchanged when accumulating.
    if (accumulate) return;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < out; ++o) y[r * ldy + o] = bias ? bias[o] : 0.0f;
    return;
  }
  switch (cpu_level()) {
#ifdef SHEARS_X86
    case CpuLevel::Avx512: return mm_avx512::run(x, ldx, n, w, ldw, bias, y, ldy, parallel, accumulate, wt);
    case CpuLevel::Avx2: return mm_avx2::run(x, ldx, n, w, ldw, bias, y, ldy, parallel, accumulate, wt);
#endif
    default: return mm_portable::run(x, ldx, n, w, ldw, bias, y, ldy, parallel, accumulate, wt);
  }
}

}  // namespace

void matmul_strided(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, const float* bias, float* y,
                    int64_t ldy, bool parallel) {
  dispatch(x, ldx, n, w, ldw, bias, y, ldy, parallel, false, false);
}

void matmul_accumulate(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, float* y, int64_t ldy,
                       bool parallel) {
  dispatch(x, ldx, n, w, ldw, nullptr, y, ldy, parallel, true, false);
}

void matmul_nn(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, float* y, int64_t ldy,
               bool accumulate, bool parallel) {
  dispatch(x, ldx, n, w, ldw, nullptr, y, ldy, parallel, accumulate, true);
}

void matmul(const float* x, int64_t n, const MatrixView& w, const float* bias, float* y, bool parallel) {
  matmul_strided(x, w.cols, n, w, w.cols, bias, y, w.rows, parallel);
}

}  // namespace shears
