// Storage dtypes of weight matrices and their conversions to and from float32.
// Conversions to f16/bf16 round to nearest even; NaN stays NaN (quiet), Inf stays Inf.
// Branch-light scalar code that the compiler vectorizes in loops.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace shears {

enum class DType : int { F32 = 0, F16 = 1, BF16 = 2 };

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
  }
  return "?";
}

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 -> binary32, exact. Written with selects instead of branches so that
// conversion loops vectorize: shift exponent and mantissa into place and rebias; Inf/NaN
// get the rest of the exponent range; zero/subnormal are fixed by one float subtraction
// (the mantissa placed under 2^-14, minus 2^-14).
inline float f16_to_f32(uint16_t h) {
  const uint32_t exp = h & 0x7c00u;
  uint32_t o = (static_cast<uint32_t>(h) & 0x7fffu) << 13;
  o += 112u << 23;                              // rebias 15 -> 127
  o += exp == 0x7c00u ? (112u << 23) : 0u;      // Inf/NaN: exponent all ones
  // NaN comes out quiet, as F16C's VCVTPH2PS gives it: every CPU level, same bits.
  o |= (exp == 0x7c00u && (h & 0x3ffu) != 0u) ? 0x00400000u : 0u;
  const float sub = bits_f32(o + (1u << 23)) - 6.103515625e-05f;  // subnormal or zero
  o = exp == 0u ? f32_bits(sub) : o;
  return bits_f32(o | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

// binary32 -> binary16, round to nearest even, overflow to Inf.
inline uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // Inf or NaN
    return sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u);
  }
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520: rounds to Inf
  if (ax < 0x38800000u) {
    // Result is subnormal or zero: value / 2^-24 rounded to an integer, nearest even.
    // Adding 0.5f (2^-1) aligns the mantissa so that the float adder rounds for us.
    float a = bits_f32(ax);
    float r = a * 16777216.0f;  // exact scaling by 2^24 (ax < 2^-14 so no overflow)
    // round half to even via the classic add-magic trick on 2^23
    float t = r + 8388608.0f;
    uint32_t m = f32_bits(t) - 0x4b000000u;
    return sign | static_cast<uint16_t>(m);
  }
  // Normal: rebias exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t odd = (ax >> 13) & 1u;
  uint32_t r = ax + 0xfffu + odd;
  r -= (112u << 23);
  return sign | static_cast<uint16_t>(r >> 13);
}

inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  uint32_t odd = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7fffu + odd) >> 16);
}

// Reads element i of a matrix stored in dtype t as float32.
inline float load_f32(const void* data, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
  }
  return 0.0f;
}

// Converts n elements starting at element `offset` of `src` to float32 in `dst`.
void to_f32(const void* src, DType t, size_t offset, size_t n, float* dst);
// Converts n float32 values into dtype t at element `offset` of `dst`.
void from_f32(const float* src, size_t n, void* dst, DType t, size_t offset);

}  // namespace shears
