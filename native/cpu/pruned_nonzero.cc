#include "cpu/pruned_nonzero.h"

#include <bitset>

#include "core/thread_pool.h"

namespace shears {

size_t pruned_nonzero(const uint8_t* keep, const uint8_t* zero, size_t n) {
  const size_t bytes = (n + 7) / 8;
  return parallel_sum<size_t>(bytes, size_t{1} << 16, [&](size_t b, size_t e) {
    size_t c = 0;
    for (size_t i = b; i < e; ++i) {
      uint8_t x = static_cast<uint8_t>(~keep[i] & ~zero[i]);
      if (i == bytes - 1 && n % 8 != 0) x &= static_cast<uint8_t>((1u << (n % 8)) - 1u);
      c += std::bitset<8>(x).count();
    }
    return c;
  });
}

}  // namespace shears
