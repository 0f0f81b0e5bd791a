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

namespace mm_portable {
static void cvt(const void* w, DType t, size_t offset, int n, float* dst) { to_f32(w, t, offset, static_cast<size_t>(n), dst); }
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
#undef MM_TARGET
#undef MM_VL
#undef MM_MR
#undef MM_CVT
#undef MM_BCAST
}  // namespace mm_portable

#ifdef SHEARS_X86
namespace mm_avx2 {
#define MM_TARGET __attribute__((target("avx2,fma,f16c")))
// f16 rows through F16C, 8 at a time; bf16 is a shift; f32 a copy.
MM_TARGET static void cvt(const void* w, DType t, size_t offset, int n, float* dst) {
  if (t == DType::F16) {
    const uint16_t* s = static_cast<const uint16_t*>(w) + offset;
    int i = 0;
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else if (t == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(w) + offset;
    for (int i = 0; i < n; ++i) dst[i] = bits_f32(static_cast<uint32_t>(s[i]) << 16);
  } else {
    std::memcpy(dst, static_cast<const float*>(w) + offset, sizeof(float) * static_cast<size_t>(n));
  }
}
#define MM_VL 8
#define MM_BCAST(s) (vf)(_mm256_set1_ps(s))
#define MM_MR 6
#define MM_CVT cvt
#include "cpu/matmul.inc"
#undef MM_TARGET
#undef MM_VL
#undef MM_MR
#undef MM_CVT
#undef MM_BCAST
}  // namespace mm_avx2

// GCC 12 warns about the undefined source operand inside _mm512_cvtph_ps.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace mm_avx512 {
#define MM_TARGET __attribute__((target("avx512f,avx2,fma,f16c")))
MM_TARGET static void cvt(const void* w, DType t, size_t offset, int n, float* dst) {
  if (t == DType::F16) {
    const uint16_t* s = static_cast<const uint16_t*>(w) + offset;
    int i = 0;
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i))));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else if (t == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(w) + offset;
    for (int i = 0; i < n; ++i) dst[i] = bits_f32(static_cast<uint32_t>(s[i]) << 16);
  } else {
    std::memcpy(dst, static_cast<const float*>(w) + offset, sizeof(float) * static_cast<size_t>(n));
  }
}
#define MM_VL 16
#define MM_BCAST(s) (vf)(_mm512_set1_ps(s))
#define MM_MR 12
#define MM_CVT cvt
#include "cpu/matmul.inc"
#undef MM_TARGET
#undef MM_VL
#undef MM_MR
#undef MM_CVT
#undef MM_BCAST
}  // namespace mm_avx512
#pragma GCC diagnostic pop
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
