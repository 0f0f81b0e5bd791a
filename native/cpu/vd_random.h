// The seeded randomness of sparse variational dropout's training (cpu/vd_train.cc layer by
// layer, cpu/vd_block.cc block by block): a generator whose stream depends on the seed
// only, standard normals drawn from it on the calling thread, and the seeded order in which
// training rows (or sequences) are visited. Same values for any thread count.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace shears {

// splitmix64: a small, well-mixed generator.
struct VdRng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1): never 0, so log() in Box-Muller is finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  uint64_t below(uint64_t n) { return next() % n; }
};

// Standard normals by Box-Muller (the stream is sequential).
inline void vd_normals(VdRng& rng, float* out, size_t size) {
  for (size_t i = 0; i < size; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform())), t = 6.283185307179586 * rng.uniform();
    out[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < size) out[i + 1] = static_cast<float>(r * std::sin(t));
  }
}

// The items of each step: the next batch of a seeded permutation, reshuffled at each pass.
struct VdOrder {
  std::vector<int64_t> perm;
  size_t pos = 0;
  explicit VdOrder(int64_t n) : perm(static_cast<size_t>(n)) {
    for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  }
  void shuffle(VdRng& rng) {
    for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
  }
  void take(VdRng& rng, int64_t b, std::vector<int64_t>& items) {
    for (int64_t k = 0; k < b; ++k) {
      if (pos == perm.size()) {
        shuffle(rng);
        pos = 0;
      }
      items[static_cast<size_t>(k)] = perm[pos++];
    }
  }
};

}  // namespace shears
