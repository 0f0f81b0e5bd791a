#include "cpu/fwd_embed.h"

#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace shears {

void embed_tokens(const int32_t* tokens, int64_t n, int64_t seq, int64_t start, const MatrixView& table,
                  const MatrixView* pos, int64_t pos_offset, float* out) {
  for (int64_t r = 0; r < n; ++r)
    if (tokens[r] < 0 || tokens[r] >= table.rows)
      fail(kRangeError, "token id " + std::to_string(tokens[r]) + " at position " + std::to_string(r) +
                            " is outside the vocabulary [0, " + std::to_string(table.rows) + ")");
  if (pos && (start + seq - 1 + pos_offset >= pos->rows || pos_offset < 0 || start < 0))
    fail(kRangeError, "a sequence of " + std::to_string(start + seq) + " tokens needs learned positions up to " +
                          std::to_string(start + seq - 1 + pos_offset) + ", the table has " + std::to_string(pos->rows) +
                          " rows");
  const size_t H = static_cast<size_t>(table.cols);
  parallel_for(static_cast<size_t>(n), 64, [&](size_t, size_t b, size_t e) {
    std::vector<float> p(pos ? H : 0);
    for (size_t r = b; r < e; ++r) {
      float* y = out + r * H;
      to_f32(table.data, table.dtype, static_cast<size_t>(tokens[r]) * H, H, y);
      if (pos) {
        const size_t prow = static_cast<size_t>(start + static_cast<int64_t>(r) % seq + pos_offset);
        to_f32(pos->data, pos->dtype, prow * H, H, p.data());
        for (size_t j = 0; j < H; ++j) y[j] += p[j];
      }
    }
  });
}

void embed_backward(const int32_t* tokens, int64_t n, int64_t seq, const float* dout, int64_t hidden, float* dtable,
                    float* dpos, int64_t pos_offset) {
  const size_t H = static_cast<size_t>(hidden);
  parallel_for(H, 64, [&](size_t, size_t j0, size_t j1) {
    for (int64_t r = 0; r < n; ++r) {
      const float* d = dout + static_cast<size_t>(r) * H;
      if (dtable) {
        float* e = dtable + static_cast<size_t>(tokens[r]) * H;
        for (size_t j = j0; j < j1; ++j) e[j] += d[j];
      }
      if (dpos) {
        float* p = dpos + static_cast<size_t>(r % seq + pos_offset) * H;
        for (size_t j = j0; j < j1; ++j) p[j] += d[j];
      }
    }
  });
}

}  // namespace shears
