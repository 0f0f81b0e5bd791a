#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>

namespace shears {

static std::atomic<bool>& simd_flag() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("SHEARS_NO_SIMD");
    return !(v && v[0] == '1');
  }()};
  return on;
}

bool simd_enabled() { return simd_flag().load(std::memory_order_relaxed); }
void set_simd_enabled(bool on) { simd_flag().store(on, std::memory_order_relaxed); }

bool has_avx512bw() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return yes && simd_enabled();
#else
  return false;
#endif
}

bool has_f16c() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return yes && simd_enabled();
#else
  return false;
#endif
}

}  // namespace shears
