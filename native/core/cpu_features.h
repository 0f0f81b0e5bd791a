// Run-time CPU feature checks for the few loops that have hand-vectorized variants.
// The addon is compiled for the x86-64 baseline (prebuilds must run everywhere), so
// wider instructions are used only in functions marked with a target attribute and
// only after these checks. SHEARS_NO_SIMD=1 (or setSimd(false) from JavaScript) forces
// the portable loops, which tests use to check that both paths agree.
#pragma once

namespace shears {

// False when SIMD variants were switched off (env SHEARS_NO_SIMD=1 or set_simd_enabled).
bool simd_enabled();
void set_simd_enabled(bool on);

// AVX-512 F + BW present and SIMD enabled.
bool has_avx512bw();
// F16C (with AVX) present and SIMD enabled: hardware f16 -> f32 conversion.
bool has_f16c();

}  // namespace shears
