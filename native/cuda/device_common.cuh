// Device-side helpers shared by the kernels: the same order keys, dtype conversions
// and score arithmetic as the CPU backend (bit for bit), mask bit writes and block scans.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels.h"

namespace shears {
namespace cuda {

// native/cpu/order_key.h
__device__ __forceinline__ uint32_t order_key(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) == 0) u = 0;  // -0 == +0
  uint32_t mask = static_cast<uint32_t>(-static_cast<int32_t>(u >> 31)) | 0x80000000u;
  return u ^ mask;
}
__device__ __forceinline__ bool is_nan_bits(float f) { return (__float_as_uint(f) & 0x7fffffffu) > 0x7f800000u; }
__device__ __forceinline__ bool finite_bits(float f) { return (__float_as_uint(f) & 0x7fffffffu) < 0x7f800000u; }

// native/core/dtype.h f16_to_f32 (exact, same bit manipulation).
__device__ __forceinline__ float f16_bits_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else {
    float v = __fmul_rn(static_cast<float>(man), 5.9604644775390625e-08f);  // exact: man * 2^-24
    bits = sign | __float_as_uint(v);
  }
  return __uint_as_float(bits);
}

__device__ __forceinline__ float load_w(const void* w, int dtype, size_t i) {
  if (dtype == 0) return static_cast<const float*>(w)[i];
  uint16_t h = static_cast<const uint16_t*>(w)[i];
  if (dtype == 1) return f16_bits_to_f32(h);
  return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

// native/cpu/score.cc pw(): the special exponents are exact; other exponents go
// through CUDA's pow (within 2 ulp in double, so the float result can differ from the
// CPU's only when the double lies within ~2 ulp of a float rounding boundary).
__device__ __forceinline__ double score_pow(double x, double e) {
  if (e == 1.0) return x;
  if (e == 2.0) return __dmul_rn(x, x);
  if (e == 0.5) return __dsqrt_rn(x);
  if (e == 0.0) return 1.0;
  return pow(x, e);
}

// Score of one finite weight x in column j (native/cpu/score.cc score_row).
__device__ __forceinline__ float score_one(float x, const ScoreSpec& sp, size_t j) {
  if (sp.mode == 0) return fabsf(x);
  if (sp.mode == 1) return __fmul_rn(fabsf(x), sp.act[j]);
  double s = score_pow(fabs(static_cast<double>(x)), sp.p);
  if (sp.q != 0.0) s = __dmul_rn(s, score_pow(static_cast<double>(sp.act[j]), sp.q));
  return __double2float_rn(s);
}

// ORs 32 keep bits (bit t = element bit+t) into the word-packed mask; the mask byte
// layout (bit i in byte i/8 at i%8) is the little-endian view of these words.
__device__ __forceinline__ void or_bits32(uint32_t* words, unsigned long long bit, uint32_t v) {
  if (v == 0) return;
  unsigned long long w = bit >> 5;
  unsigned off = static_cast<unsigned>(bit & 31u);
  atomicOr(&words[w], v << off);
  if (off != 0 && (v >> (32 - off)) != 0) atomicOr(&words[w + 1], v >> (32 - off));
}

// Exclusive prefix sum over the block (all NW warps must call it). `sh` holds NW
// values of shared scratch; the block total goes to *total.
template <typename T, int NW>
__device__ __forceinline__ T block_exclusive_scan(T v, T* sh, T* total) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  T x = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    T y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  if (lane == 31) sh[w] = x;
  __syncthreads();
  T off = 0, tot = 0;
#pragma unroll
  for (int i = 0; i < NW; ++i) {
    T t = sh[i];
    off += (i < w) ? t : T(0);
    tot += t;
  }
  __syncthreads();  // sh may be reused right away
  *total = tot;
  return off + x - v;
}

inline int grid_for(size_t n, int threads, int sms, int per_sm = 8) {
  size_t blocks = (n + threads - 1) / threads;
  size_t cap = static_cast<size_t>(sms > 0 ? sms : 1) * per_sm;
  if (blocks > cap) blocks = cap;
  return blocks == 0 ? 1 : static_cast<int>(blocks);
}

}  // namespace cuda
}  // namespace shears
