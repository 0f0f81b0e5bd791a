#include "cpu/random_scores.h"

#include "core/thread_pool.h"

namespace shears {
namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;

// splitmix64's output function (Steele, Lea & Flood 2014).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t name_hash64(const char* s, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(s[i]);
    h *= 0x100000001B3ull;
  }
  return h;
}

void random_scores(uint64_t seed, uint64_t stream, float* out, size_t n) {
  // Two different seeds or streams start splitmix64 sequences at unrelated points.
  const uint64_t key = mix64(seed + kGamma) ^ mix64(stream ^ 0xD1B54A32D192ED03ull);
  parallel_for(n, 1 << 16, [&](size_t, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) out[i] = static_cast<float>(mix64(key + (i + 1) * kGamma) >> 40) * (1.0f / 16777216.0f);
  });
}

}  // namespace shears
