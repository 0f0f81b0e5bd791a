// Seeded uniform scores for the random baselines (random, random-pattern): a
// counter-based generator, so every weight's score depends only on (seed, the matrix's
// name, its index), never on the thread count or on the order matrices are pruned in.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shears {

// FNV-1a (64 bit) of a byte string: the matrix's stream.
uint64_t name_hash64(const char* s, size_t n);

// out[i] = a uniform number in [0, 1) with 24 random bits (exact in float32): the
// splitmix64 finalizer of a key mixed from (seed, stream), advanced by i.
void random_scores(uint64_t seed, uint64_t stream, float* out, size_t n);

}  // namespace shears
