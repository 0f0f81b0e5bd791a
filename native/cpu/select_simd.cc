#include "cpu/select_simd.h"

#include <algorithm>
#include <cstring>

#include "core/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SHEARS_X86 1
#endif

namespace shears {

namespace {

size_t gather_portable(const uint32_t* keys, size_t n, uint32_t lo, uint32_t hi, uint32_t* out, size_t* below) {
  size_t b = 0, nc = 0;
  const uint32_t width = hi - lo;
  for (size_t j = 0; j < n; ++j) {
    uint32_t key = keys[j];
    b += key < lo;
    out[nc] = key;  // branch-free append: the slot is kept only if the key is inside
    nc += (key - lo) <= width;
  }
  *below = b;
  return nc;
}

// Keep bits of 8 keys (bit t = key t kept), consuming ties in index order.
inline unsigned keep_byte(const uint32_t* k8, unsigned count, uint32_t T, size_t ties, size_t& seen) {
  unsigned keep = 0;
  for (unsigned t = 0; t < count; ++t) {
    uint32_t k = k8[t];
    bool prune = k < T;
    if (k == T && seen < ties) {
      prune = true;
      ++seen;
    }
    keep |= static_cast<unsigned>(!prune) << t;
  }
  return keep;
}

void threshold_portable(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0) {
  size_t seen = 0;
  uint8_t* out = bits + (bit0 >> 3);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const uint32_t* k8 = keys + j;
    unsigned lt = 0, eq = 0;
    for (unsigned t = 0; t < 8; ++t) {
      lt |= static_cast<unsigned>(k8[t] < T) << t;
      eq |= static_cast<unsigned>(k8[t] == T) << t;
    }
    out[j >> 3] = static_cast<uint8_t>((eq && seen < ties) ? keep_byte(k8, 8, T, ties, seen) : (~lt & 0xffu));
  }
  if (j < n) {
    // last partial byte: keep the bits above n that belong to the next row
    unsigned keep = keep_byte(keys + j, static_cast<unsigned>(n - j), T, ties, seen);
    unsigned used = (1u << (n - j)) - 1u;
    out[j >> 3] = static_cast<uint8_t>((out[j >> 3] & ~used) | (keep & used));
  }
}

template <typename E>
size_t apply_portable(E* w, size_t n, const uint8_t* bits) {
  size_t pruned = 0;
  for (size_t j = 0; j < n; j += 8) {
    unsigned byte = bits[j >> 3];
    size_t cnt = n - j < 8 ? n - j : 8;
    if (cnt < 8) byte |= ~((1u << cnt) - 1u) & 0xffu;  // bits past the end are not ours
    if (byte == 0xffu) continue;
    for (size_t t = 0; t < cnt; ++t) {
      bool keep = (byte >> t) & 1u;
      w[j + t] = keep ? w[j + t] : E(0);
      pruned += !keep;
    }
  }
  return pruned;
}

#ifdef SHEARS_X86
__attribute__((target("avx512f,avx512bw"))) size_t gather_avx512(const uint32_t* keys, size_t n, uint32_t lo,
                                                                   uint32_t hi, uint32_t* out, size_t* below) {
  const __m512i vlo = _mm512_set1_epi32(static_cast<int>(lo)), vhi = _mm512_set1_epi32(static_cast<int>(hi));
  size_t b = 0, nc = 0, j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512i k = _mm512_loadu_si512(keys + j);
    __mmask16 lt = _mm512_cmplt_epu32_mask(k, vlo);
    __mmask16 in = _mm512_mask_cmple_epu32_mask(static_cast<__mmask16>(~lt), k, vhi);
    b += static_cast<size_t>(__builtin_popcount(lt));
    _mm512_mask_compressstoreu_epi32(out + nc, in, k);
    nc += static_cast<size_t>(__builtin_popcount(in));
  }
  size_t tb = 0;
  nc += gather_portable(keys + j, n - j, lo, hi, out + nc, &tb);
  *below = b + tb;
  return nc;
}

__attribute__((target("avx512f,avx512bw"))) void threshold_avx512(const uint32_t* keys, size_t n, uint32_t T,
                                                                   size_t ties, uint8_t* bits, size_t bit0) {
  const __m512i vt = _mm512_set1_epi32(static_cast<int>(T));
  uint8_t* out = bits + (bit0 >> 3);
  size_t seen = 0, j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512i k = _mm512_loadu_si512(keys + j);
    unsigned lt = _mm512_cmplt_epu32_mask(k, vt);
    unsigned eq = _mm512_cmpeq_epu32_mask(k, vt);
    unsigned prune = lt;
    while (eq && seen < ties) {  // ties are few: peel them off lowest index first
      unsigned low = eq & (0u - eq);
      prune |= low;
      eq ^= low;
      ++seen;
    }
    unsigned keep = ~prune & 0xffffu;
    std::memcpy(out + (j >> 3), &keep, 2);  // little-endian: bits 0-7 then 8-15
  }
  if (j < n) {
    // the portable code finishes the tail with the same tie counter
    size_t rest_seen_budget = ties > seen ? ties - seen : 0;
    threshold_portable(keys + j, n - j, T, rest_seen_budget, bits, bit0 + j);
  }
}

template <typename E>
__attribute__((target("avx512f,avx512bw"))) size_t apply_avx512(E* w, size_t n, const uint8_t* bits) {
  size_t pruned = 0, j = 0;
  if constexpr (sizeof(E) == 4) {
    for (; j + 16 <= n; j += 16) {
      uint16_t m;
      std::memcpy(&m, bits + (j >> 3), 2);
      if (m == 0xffffu) continue;
      __m512 v = _mm512_maskz_mov_ps(m, _mm512_loadu_ps(reinterpret_cast<float*>(w) + j));
      _mm512_storeu_ps(reinterpret_cast<float*>(w) + j, v);
      pruned += 16 - static_cast<size_t>(__builtin_popcount(m));
    }
  } else {
    for (; j + 32 <= n; j += 32) {
      uint32_t m;
      std::memcpy(&m, bits + (j >> 3), 4);
      if (m == 0xffffffffu) continue;
      __m512i v = _mm512_maskz_mov_epi16(m, _mm512_loadu_si512(w + j));
      _mm512_storeu_si512(w + j, v);
      pruned += 32 - static_cast<size_t>(__builtin_popcount(m));
    }
  }
  return pruned + apply_portable(w + j, n - j, bits + (j >> 3));
}
#endif

}  // namespace

size_t gather_bracket(const uint32_t* keys, size_t n, uint32_t lo, uint32_t hi, uint32_t* out, size_t* below) {
#ifdef SHEARS_X86
  if (has_avx512bw()) return gather_avx512(keys, n, lo, hi, out, below);
#endif
  return gather_portable(keys, n, lo, hi, out, below);
}

static void threshold_aligned(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0) {
#ifdef SHEARS_X86
  if (has_avx512bw()) return threshold_avx512(keys, n, T, ties, bits, bit0);
#endif
  threshold_portable(keys, n, T, ties, bits, bit0);
}

void threshold_mask(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0) {
  // A row that starts inside a byte: its first bits up to the byte boundary one by one
  // (read-modify-write, the byte is shared with the previous row), then whole bytes.
  size_t head = std::min(n, static_cast<size_t>((8 - (bit0 & 7)) & 7));
  size_t seen = 0;
  for (size_t j = 0; j < head; ++j) {
    bool prune = keys[j] < T || (keys[j] == T && seen < ties);
    seen += keys[j] == T && seen < ties;
    size_t i = bit0 + j;
    uint8_t b = static_cast<uint8_t>(1u << (i & 7));
    if (prune) bits[i >> 3] &= static_cast<uint8_t>(~b);
    else bits[i >> 3] |= b;
  }
  if (n > head) threshold_aligned(keys + head, n - head, T, ties - seen, bits, bit0 + head);
}

size_t apply_mask_aligned(void* w, DType t, size_t offset, size_t n, const uint8_t* bits) {
  const uint8_t* b = bits + (offset >> 3);
#ifdef SHEARS_X86
  if (has_avx512bw()) {
    if (t == DType::F32) return apply_avx512(static_cast<float*>(w) + offset, n, b);
    return apply_avx512(static_cast<uint16_t*>(w) + offset, n, b);
  }
#endif
  if (t == DType::F32) return apply_portable(static_cast<float*>(w) + offset, n, b);
  return apply_portable(static_cast<uint16_t*>(w) + offset, n, b);
}

}  // namespace shears
