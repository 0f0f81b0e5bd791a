// N:M selection: in every group of M consecutive weights of a row, the M-N lowest
// scores are pruned (lower index first among equals). M <= 32, so a rank count per
// element (O(M) each) is simpler and faster than sorting the group.
#include <algorithm>
#include <cstdint>

#include "cpu/bitmask.h"
#include "cpu/order_key.h"
#include "cpu/select.h"

namespace shears {

size_t select_row_nm(const float* scores, size_t len, int n, int m, uint8_t* bits, size_t bit0) {
  size_t pruned = 0;
  uint32_t keys[32];
  bool keep[32];
  for (size_t g = 0; g < len; g += static_cast<size_t>(m)) {
    size_t r = std::min(static_cast<size_t>(m), len - g);
    size_t drop = r > static_cast<size_t>(n) ? r - static_cast<size_t>(n) : 0;
    for (size_t i = 0; i < r; ++i) keys[i] = order_key(scores[g + i]);
    for (size_t i = 0; i < r; ++i) {
      size_t rank = 0;  // how many entries are pruned before this one would be
      for (size_t j = 0; j < r; ++j) rank += (keys[j] < keys[i]) | ((keys[j] == keys[i]) & (j < i));
      keep[i] = rank >= drop;
    }
    pruned += drop;
    write_bits(bits, bit0 + g, r, [&](size_t i) { return keep[i]; });
  }
  return pruned;
}

}  // namespace shears
