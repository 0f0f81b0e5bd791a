// k lowest scores across whole matrices (matrix and global granularity).
// Radix selection on 32-bit order keys in two 16-bit histogram passes gives the
// exact threshold key T and how many keys below it there are; then the keys equal
// to T are counted per piece so that ties are pruned in (matrix, row-major index)
// order, the same order the reference uses, whatever the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/bitmask.h"
#include "cpu/order_key.h"
#include "cpu/select.h"

namespace shears {

namespace {

struct Piece {
  size_t block, row0, row1;  // rows [row0, row1) of block
};

constexpr size_t kBins = 65536;

}  // namespace

void select_k_smallest(std::vector<ScoreBlock>& blocks, size_t k) {
  // Split every block into row ranges that start on a mask byte boundary.
  std::vector<Piece> pieces;
  size_t total = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const ScoreBlock& blk = blocks[b];
    total += blk.count;
    size_t rows = blk.count / blk.cols;
    size_t mult = byte_aligned_row_multiple(blk.cols);
    size_t rows_per_piece = std::max<size_t>(1, (1u << 18) / blk.cols);
    rows_per_piece = (rows_per_piece + mult - 1) / mult * mult;
    for (size_t r = 0; r < rows; r += rows_per_piece) pieces.push_back({b, r, std::min(rows, r + rows_per_piece)});
  }
  if (total == 0) return;
  const size_t np = pieces.size();
  auto piece_span = [&](const Piece& p, const float*& s, size_t& n) {
    const ScoreBlock& blk = blocks[p.block];
    s = blk.scores + p.row0 * blk.cols;
    n = (p.row1 - p.row0) * blk.cols;
  };

  uint32_t T = 0;
  size_t ties = 0;
  if (k > 0 && k < total) {
    // Pass 1: histogram of the high 16 bits.
    std::vector<uint32_t> hist(np * kBins, 0);
    parallel_for(np, 1, [&](size_t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const float* s;
        size_t n;
        piece_span(pieces[i], s, n);
        uint32_t* h = &hist[i * kBins];
        for (size_t j = 0; j < n; ++j) ++h[order_key(s[j]) >> 16];
      }
    });
    std::vector<uint64_t> hi(kBins, 0);
    for (size_t i = 0; i < np; ++i)
      for (size_t v = 0; v < kBins; ++v) hi[v] += hist[i * kBins + v];
    // Bin that holds the k-th smallest (1-based), and how many lie below it.
    uint64_t below = 0;
    uint32_t hb = 0;
    for (uint32_t v = 0; v < kBins; ++v) {
      if (below + hi[v] >= k) {
        hb = v;
        break;
      }
      below += hi[v];
    }
    // Pass 2: histogram of the low 16 bits inside that bin.
    std::fill(hist.begin(), hist.end(), 0u);
    parallel_for(np, 1, [&](size_t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const float* s;
        size_t n;
        piece_span(pieces[i], s, n);
        uint32_t* h = &hist[i * kBins];
        for (size_t j = 0; j < n; ++j) {
          uint32_t key = order_key(s[j]);
          if ((key >> 16) == hb) ++h[key & 0xffffu];
        }
      }
    });
    std::vector<uint64_t> lo(kBins, 0);
    for (size_t i = 0; i < np; ++i)
      for (size_t v = 0; v < kBins; ++v) lo[v] += hist[i * kBins + v];
    uint64_t lt = below;
    uint32_t lb = 0;
    for (uint32_t v = 0; v < kBins; ++v) {
      if (lt + lo[v] >= k) {
        lb = v;
        break;
      }
      lt += lo[v];
    }
    T = (hb << 16) | lb;
    ties = k - lt;  // >= 1 keys equal to T are pruned
  }

  // Pass 3: keys equal to T per piece, so each piece knows its share of the ties.
  std::vector<size_t> quota(np, 0);
  if (k > 0 && k < total) {
    std::vector<size_t> eq(np, 0);
    parallel_for(np, 1, [&](size_t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const float* s;
        size_t n;
        piece_span(pieces[i], s, n);
        size_t c = 0;
        for (size_t j = 0; j < n; ++j) c += (order_key(s[j]) == T);
        eq[i] = c;
      }
    });
    size_t left = ties;
    for (size_t i = 0; i < np; ++i) {
      quota[i] = std::min(left, eq[i]);
      left -= quota[i];
    }
  }

  // Pass 4: the mask, row by row.
  parallel_for(np, 1, [&](size_t, size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const Piece& p = pieces[i];
      const ScoreBlock& blk = blocks[p.block];
      size_t left = quota[i];
      for (size_t r = p.row0; r < p.row1; ++r) {
        const float* s = blk.scores + r * blk.cols;
        size_t pruned = 0;
        if (k == 0) {
          write_bits(blk.bits, r * blk.cols, blk.cols, [](size_t) { return true; });
        } else if (k >= total) {
          write_bits(blk.bits, r * blk.cols, blk.cols, [](size_t) { return false; });
          pruned = blk.cols;
        } else {
          write_bits(blk.bits, r * blk.cols, blk.cols, [&](size_t j) {
            uint32_t key = order_key(s[j]);
            bool prune = key < T || (key == T && left > 0);
            if (key == T && left > 0) --left;
            pruned += prune;
            return !prune;
          });
        }
        if (blk.pruned_per_row) blk.pruned_per_row[r] = static_cast<uint32_t>(pruned);
      }
    }
  });
}

}  // namespace shears
