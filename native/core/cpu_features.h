// The one place that decides which instruction-set variants the CPU kernels use.
// The addon is compiled for the x86-64 baseline (prebuilds must run everywhere), so
// wider instructions live only in functions marked with a target attribute, and every
// kernel that has such variants asks here before calling one.
//
// Levels are cumulative caps: portable (baseline loops only) < avx2 (AVX2 + FMA +
// F16C) < avx512 (AVX-512 F + BW on top). The level in use is the lower of the cap and
// what the CPU has. The cap comes from SHEARS_CPU=portable|avx2|avx512|auto at load
// (deprecated aliases, read only here: SHEARS_NO_SIMD=1 and SHEARS_NO_AVX2=1 mean
// portable, SHEARS_MATMUL_ISA=X means X) and from set_cpu_level (JavaScript:
// setCpuFeatures). Every variant gives the same bits; tests compare them by capping.
#pragma once
#include <string>

namespace shears {

enum class CpuLevel : int { Portable = 0, Avx2 = 1, Avx512 = 2 };

const char* cpu_level_name(CpuLevel level);
// The best level this CPU supports, whatever the cap.
CpuLevel cpu_best_level();
// The level in use now (cap applied).
CpuLevel cpu_level();
// Caps the level for the whole process; `auto` (uncapped) is set_cpu_level_auto().
// Throws E_BACKEND when the CPU lacks the level. Safe at any time: the variants give
// the same bits, so a kernel that sees a change halfway still computes the same result.
void set_cpu_level(CpuLevel level);
void set_cpu_level_auto();
// "portable", "avx2", "avx512" or "auto"; throws E_RANGE for anything else.
// Returns false for "auto".
bool parse_cpu_level(const std::string& name, CpuLevel* level);

// Feature checks used by the kernels (each includes the cap).
inline bool has_avx2_fma() { return cpu_level() >= CpuLevel::Avx2; }  // AVX2 + FMA + F16C
inline bool has_f16c() { return cpu_level() >= CpuLevel::Avx2; }
inline bool has_avx512bw() { return cpu_level() >= CpuLevel::Avx512; }  // AVX-512 F + BW

}  // namespace shears
