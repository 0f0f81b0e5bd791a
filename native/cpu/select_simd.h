// The hot loops of per-row selection and masking, with an AVX-512 variant (compress
// stores and compare-to-mask give 16 keys per instruction) chosen at run time, and the
// portable loop that is the reference for it. Both give identical results.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

// Copies the keys with lo <= key <= hi to out (in order) and returns how many;
// *below receives the number of keys < lo.
size_t gather_bracket(const uint32_t* keys, size_t n, uint32_t lo, uint32_t hi, uint32_t* out, size_t* below);

// Writes keep bits for n keys starting at bit bit0: a key is pruned when key < T, or
// key == T and it is among the first `ties` such keys (in index order).
void threshold_mask(const uint32_t* keys, size_t n, uint32_t T, size_t ties, uint8_t* bits, size_t bit0);

// Zeroes w[offset + j] for j in [0, n) whose keep bit (offset + j) is 0, with offset
// % 8 == 0. Returns the number of zero bits.
size_t apply_mask_aligned(void* w, DType t, size_t offset, size_t n, const uint8_t* bits);

}  // namespace shears
