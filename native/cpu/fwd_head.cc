#include "cpu/fwd_head.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/fwd_norm.h"
#include "cpu/matmul.h"

namespace shears {

namespace {

constexpr int64_t kRowTile = 256;
constexpr int64_t kVocabTile = 512;

// Rows [r0, r0+n) of a matrix, as a matrix.
MatrixView row_slice(const MatrixView& m, int64_t r0, int64_t n) {
  MatrixView s = m;
  s.data = static_cast<char*>(m.data) + static_cast<size_t>(r0) * static_cast<size_t>(m.cols) * dtype_size(m.dtype);
  s.rows = n;
  return s;
}

std::vector<float> head_input(const HeadSpec& head, const float* hidden, int64_t rows) {
  const int64_t H = head.lm.cols;
  std::vector<float> x(static_cast<size_t>(rows * H));
  if (head.has_norm)
    norm_rows(head.norm, hidden, x.data(), rows, H);
  else
    std::copy(hidden, hidden + rows * H, x.begin());
  return x;
}

}  // namespace

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

NllTotal nll_rows(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out) {
  const int64_t V = head.lm.rows;
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < -1 || targets[r] >= V)
      fail(kRangeError, "target " + std::to_string(targets[r]) + " at row " + std::to_string(r) +
                            " is outside the vocabulary [0, " + std::to_string(V) + ") (-1: no prediction)");
  const std::vector<float> x = head_input(head, hidden, rows);
  const int64_t H = head.lm.cols;
  const int64_t rt = (rows + kRowTile - 1) / kRowTile, vt = (V + kVocabTile - 1) / kVocabTile;
  // Per (vocab tile, row): max logit and sum of exp(logit - max) over the tile.
  std::vector<float> tmax(static_cast<size_t>(vt * rows));
  std::vector<double> tsum(static_cast<size_t>(vt * rows));
  std::vector<float> tgt(static_cast<size_t>(rows), std::numeric_limits<float>::quiet_NaN());
  parallel_for(static_cast<size_t>(rt * vt), 1, [&](size_t, size_t t0, size_t t1) {
    std::vector<float> z(static_cast<size_t>(kRowTile * kVocabTile));
    for (size_t t = t0; t < t1; ++t) {
      const int64_t ri = static_cast<int64_t>(t) / vt, vi = static_cast<int64_t>(t) % vt;
      const int64_t r0 = ri * kRowTile, nr = std::min(kRowTile, rows - r0);
      const int64_t v0 = vi * kVocabTile, nv = std::min(kVocabTile, V - v0);
      matmul(x.data() + r0 * H, nr, row_slice(head.lm, v0, nv), nullptr, z.data(), false);
      for (int64_t r = 0; r < nr; ++r) {
        const float* zr = z.data() + r * nv;
        float m = -INFINITY;
        for (int64_t j = 0; j < nv; ++j) m = std::max(m, zr[j]);
        double s = 0.0;
        for (int64_t j = 0; j < nv; ++j) s += std::exp(static_cast<double>(zr[j] - m));
        tmax[static_cast<size_t>(vi * rows + r0 + r)] = m;
        tsum[static_cast<size_t>(vi * rows + r0 + r)] = s;
        const int32_t target = targets[r0 + r];
        if (target >= v0 && target < v0 + nv) tgt[static_cast<size_t>(r0 + r)] = zr[target - v0];
      }
    }
  });
  NllTotal total;
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] < 0) {
      out[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    double m = -INFINITY;
    for (int64_t vi = 0; vi < vt; ++vi) m = std::max(m, static_cast<double>(tmax[static_cast<size_t>(vi * rows + r)]));
    double s = 0.0;
    for (int64_t vi = 0; vi < vt; ++vi)
      s += tsum[static_cast<size_t>(vi * rows + r)] * std::exp(tmax[static_cast<size_t>(vi * rows + r)] - m);
    const double nll = m + std::log(s) - static_cast<double>(tgt[static_cast<size_t>(r)]);
    out[r] = static_cast<float>(nll);
    total.sum += nll;
    total.count += 1;
  }
  return total;
}

void logits_rows(const HeadSpec& head, const float* hidden, int64_t rows, float* out) {
  const std::vector<float> x = head_input(head, hidden, rows);
  matmul(x.data(), rows, head.lm, nullptr, out);
}

void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* out) {
  const size_t C = static_cast<size_t>(cols);
  parallel_for(static_cast<size_t>(rows), 8, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* v = x + r * C;
      size_t best = 0;
      for (size_t j = 1; j < C; ++j)
        if (v[j] > v[best]) best = j;
      out[r] = static_cast<int32_t>(best);
    }
  });
}

KlTop1 kl_top1(const float* a, const float* b, int64_t rows, int64_t vocab, double* kl, int32_t* arg_a, int32_t* arg_b) {
  const size_t V = static_cast<size_t>(vocab);
  parallel_for(static_cast<size_t>(rows), 8, [&](size_t, size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* x = a + r * V;
      const float* y = b + r * V;
      size_t ia = 0, ib = 0;
      for (size_t j = 1; j < V; ++j) {
        if (x[j] > x[ia]) ia = j;
        if (y[j] > y[ib]) ib = j;
      }
      double sa = 0.0, sb = 0.0;
      for (size_t j = 0; j < V; ++j) {
        sa += std::exp(static_cast<double>(x[j]) - x[ia]);
        sb += std::exp(static_cast<double>(y[j]) - y[ib]);
      }
      const double lsa = x[ia] + std::log(sa), lsb = y[ib] + std::log(sb);
      double d = 0.0;
      for (size_t j = 0; j < V; ++j) {
        const double la = x[j] - lsa, lb = y[j] - lsb;
        d += std::exp(la) * (la - lb);
      }
      kl[r] = d;
      arg_a[r] = static_cast<int32_t>(ia);
      arg_b[r] = static_cast<int32_t>(ib);
    }
  });
  KlTop1 res;
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) {
    res.kl_mean += kl[r];
    agree += arg_a[r] == arg_b[r];
  }
  if (rows > 0) {
    res.kl_mean /= static_cast<double>(rows);
    res.top1_agreement = static_cast<double>(agree) / static_cast<double>(rows);
  }
  return res;
}

}  // namespace shears
