#include "cpu/keep_from_zeros.h"

#include "core/thread_pool.h"

namespace shears {

void keep_from_zeros(const uint8_t* zero, size_t n, uint8_t* keep) {
  const size_t bytes = (n + 7) / 8;
  parallel_for(bytes, 1 << 16, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) keep[i] = static_cast<uint8_t>(~zero[i]);
  });
  if (n % 8 != 0) keep[bytes - 1] &= static_cast<uint8_t>((1u << (n % 8)) - 1u);
}

}  // namespace shears
