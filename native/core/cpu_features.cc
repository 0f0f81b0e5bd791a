#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace shears {

namespace {

CpuLevel detect() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return CpuLevel::Avx512;
  if (avx2) return CpuLevel::Avx2;
#endif
  return CpuLevel::Portable;
}

bool env_is_one(const char* name) {
  const char* v = std::getenv(name);
  return v && v[0] == '1';
}

// The cap from the environment: SHEARS_CPU, else its deprecated aliases. An unknown
// value is ignored (the addon must load); setCpuFeatures reports bad names instead.
CpuLevel initial_level() {
  const CpuLevel best = cpu_best_level();
  CpuLevel want = best;
  const char* named = std::getenv("SHEARS_CPU");
  if (!named) named = std::getenv("SHEARS_MATMUL_ISA");
  if (named) {
    try {
      CpuLevel l;
      if (parse_cpu_level(named, &l)) want = l;
    } catch (const Error&) {
    }
  } else if (env_is_one("SHEARS_NO_SIMD") || env_is_one("SHEARS_NO_AVX2")) {
    want = CpuLevel::Portable;
  }
  return want < best ? want : best;
}

std::atomic<int>& current() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

}  // namespace

const char* cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::Portable: return "portable";
    case CpuLevel::Avx2: return "avx2";
    case CpuLevel::Avx512: return "avx512";
  }
  return "?";
}

CpuLevel cpu_best_level() {
  static const CpuLevel best = detect();
  return best;
}

CpuLevel cpu_level() { return static_cast<CpuLevel>(current().load(std::memory_order_relaxed)); }

void set_cpu_level(CpuLevel level) {
  if (level > cpu_best_level())
    fail(kBackendError, std::string("this CPU does not support the ") + cpu_level_name(level) + " kernels (best: " +
                            cpu_level_name(cpu_best_level()) + ")");
  current().store(static_cast<int>(level), std::memory_order_relaxed);
}

void set_cpu_level_auto() { current().store(static_cast<int>(cpu_best_level()), std::memory_order_relaxed); }

bool parse_cpu_level(const std::string& name, CpuLevel* level) {
  if (name == "auto") return false;
  if (name == "portable") *level = CpuLevel::Portable;
  else if (name == "avx2") *level = CpuLevel::Avx2;
  else if (name == "avx512") *level = CpuLevel::Avx512;
  else fail(kRangeError, "CPU features must be auto, portable, avx2 or avx512, got '" + name + "'");
  return true;
}

}  // namespace shears
