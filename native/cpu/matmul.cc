// Run-time choice between the instruction-set variants of matmul.inc.
#include "cpu/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
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

MatmulIsa best_isa() {
#ifdef SHEARS_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return MatmulIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return MatmulIsa::Avx2;
#endif
  return MatmulIsa::Portable;
}

// SHEARS_MATMUL_ISA=portable|avx2|avx512 caps the choice (for comparisons); default: best.
MatmulIsa initial_isa() {
  MatmulIsa best = best_isa();
  if (const char* env = std::getenv("SHEARS_MATMUL_ISA")) {
    try {
      MatmulIsa want = parse_matmul_isa(env);
      if (want != MatmulIsa::Auto && static_cast<int>(want) <= static_cast<int>(best)) return want;
    } catch (const Error&) {
      // an unknown value keeps the default
    }
  }
  return best;
}

std::atomic<int>& current() {
  static std::atomic<int> c{static_cast<int>(initial_isa())};
  return c;
}

}  // namespace

const char* matmul_isa_name(MatmulIsa isa) {
  switch (isa) {
    case MatmulIsa::Auto: return "auto";
    case MatmulIsa::Portable: return "portable";
    case MatmulIsa::Avx2: return "avx2";
    case MatmulIsa::Avx512: return "avx512";
  }
  return "?";
}

MatmulIsa parse_matmul_isa(const std::string& name) {
  if (name == "auto") return MatmulIsa::Auto;
  if (name == "portable") return MatmulIsa::Portable;
  if (name == "avx2") return MatmulIsa::Avx2;
  if (name == "avx512") return MatmulIsa::Avx512;
  fail(kRangeError, "matmul ISA must be auto, portable, avx2 or avx512, got '" + name + "'");
}

bool matmul_isa_supported(MatmulIsa isa) {
  if (isa == MatmulIsa::Auto || isa == MatmulIsa::Portable) return true;
  return static_cast<int>(isa) <= static_cast<int>(best_isa());
}

void set_matmul_isa(MatmulIsa isa) {
  if (isa == MatmulIsa::Auto) isa = best_isa();
  if (!matmul_isa_supported(isa))
    fail(kBackendError, std::string("this CPU does not support the ") + matmul_isa_name(isa) + " matmul kernel");
  current().store(static_cast<int>(isa));
}

MatmulIsa matmul_isa() { return static_cast<MatmulIsa>(current().load()); }

void matmul_strided(const float* x, int64_t ldx, int64_t n, const MatrixView& w, int64_t ldw, const float* bias, float* y,
                    int64_t ldy, bool parallel) {
  if (n <= 0 || w.rows <= 0) return;
  if (w.cols <= 0) {
    // An empty input dimension: y is the bias (or zero).
    for (int64_t r = 0; r < n; ++r)
      for (int64_t o = 0; o < w.rows; ++o) y[r * ldy + o] = bias ? bias[o] : 0.0f;
    return;
  }
  switch (matmul_isa()) {
#ifdef SHEARS_X86
    case MatmulIsa::Avx512: return mm_avx512::run(x, ldx, n, w, ldw, bias, y, ldy, parallel);
    case MatmulIsa::Avx2: return mm_avx2::run(x, ldx, n, w, ldw, bias, y, ldy, parallel);
#endif
    default: return mm_portable::run(x, ldx, n, w, ldw, bias, y, ldy, parallel);
  }
}

void matmul(const float* x, int64_t n, const MatrixView& w, const float* bias, float* y, bool parallel) {
  matmul_strided(x, w.cols, n, w, w.cols, bias, y, w.rows, parallel);
}

}  // namespace shears
