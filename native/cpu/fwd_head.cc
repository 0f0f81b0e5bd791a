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
#include "cpu/transpose.h"

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

namespace {

// One row's logits over a vocab tile [v0, v0 + nv): their max, the sum of exp(z - max),
// and the target's logit when the tile holds it.
void tile_stats(const float* zr, int64_t nv, int64_t v0, int32_t target, float& max, double& sum, float& target_logit) {
  float m = -INFINITY;
  for (int64_t j = 0; j < nv; ++j) m = std::max(m, zr[j]);
  double s = 0.0;
  for (int64_t j = 0; j < nv; ++j) s += std::exp(static_cast<double>(zr[j] - m));
  max = m;
  sum = s;
  if (target >= v0 && target < v0 + nv) target_logit = zr[target - v0];
}

// logsumexp from the tiles' (max, sum), tile i at index i * stride, merged in tile order.
double merge_lse(const float* tmax, const double* tsum, int64_t tiles, int64_t stride) {
  double m = -INFINITY;
  for (int64_t vi = 0; vi < tiles; ++vi) m = std::max(m, static_cast<double>(tmax[vi * stride]));
  double s = 0.0;
  for (int64_t vi = 0; vi < tiles; ++vi) s += tsum[vi * stride] * std::exp(tmax[vi * stride] - m);
  return m + std::log(s);
}

// Per row: logsumexp of the logits and the target's logit (NaN without a target),
// from tiles of rows x vocab reduced to (max, sum of exp) and merged in tile order.
struct RowLse {
  std::vector<double> lse;
  std::vector<float> target;
};

RowLse row_lse(const MatrixView& lm, const float* x, int64_t rows, const int32_t* targets) {
  const int64_t V = lm.rows, H = lm.cols;
  const int64_t rt = (rows + kRowTile - 1) / kRowTile, vt = (V + kVocabTile - 1) / kVocabTile;
  // Per (vocab tile, row): max logit and sum of exp(logit - max) over the tile.
  std::vector<float> tmax(static_cast<size_t>(vt * rows));
  std::vector<double> tsum(static_cast<size_t>(vt * rows));
  RowLse out;
  out.target.assign(static_cast<size_t>(rows), std::numeric_limits<float>::quiet_NaN());
  parallel_for(static_cast<size_t>(rt * vt), 1, [&](size_t, size_t t0, size_t t1) {
    std::vector<float> z(static_cast<size_t>(kRowTile * kVocabTile));
    for (size_t t = t0; t < t1; ++t) {
      const int64_t ri = static_cast<int64_t>(t) / vt, vi = static_cast<int64_t>(t) % vt;
      const int64_t r0 = ri * kRowTile, nr = std::min(kRowTile, rows - r0);
      const int64_t v0 = vi * kVocabTile, nv = std::min(kVocabTile, V - v0);
      matmul(x + r0 * H, nr, row_slice(lm, v0, nv), nullptr, z.data(), false);
      for (int64_t r = 0; r < nr; ++r)
        tile_stats(z.data() + r * nv, nv, v0, targets[r0 + r], tmax[static_cast<size_t>(vi * rows + r0 + r)],
                   tsum[static_cast<size_t>(vi * rows + r0 + r)], out.target[static_cast<size_t>(r0 + r)]);
    }
  });
  out.lse.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) out.lse[static_cast<size_t>(r)] = merge_lse(tmax.data() + r, tsum.data() + r, vt, rows);
  return out;
}

void check_targets(const int32_t* targets, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < -1 || targets[r] >= V)
      fail(kRangeError, "target " + std::to_string(targets[r]) + " at row " + std::to_string(r) +
                            " is outside the vocabulary [0, " + std::to_string(V) + ") (-1: no prediction)");
}

}  // namespace

NllTotal nll_rows(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out) {
  check_targets(targets, rows, head.lm.rows);
  const std::vector<float> x = head_input(head, hidden, rows);
  const RowLse l = row_lse(head.lm, x.data(), rows, targets);
  NllTotal total;
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] < 0) {
      out[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const double nll = l.lse[static_cast<size_t>(r)] - static_cast<double>(l.target[static_cast<size_t>(r)]);
    out[r] = static_cast<float>(nll);
    total.sum += nll;
    total.count += 1;
  }
  return total;
}

namespace {

// logsumexp of one row of n logits: the whole row as one tile of tile_stats.
double logsumexp_row(const float* z, int64_t n) {
  float m = 0.0f, unused = 0.0f;
  double s = 0.0;
  tile_stats(z, n, 0, -1, m, s, unused);
  return m + std::log(s);
}

constexpr int64_t kVocabGroups = 16;  // fixed: the sums' order must not depend on threads

// Phase 2 of a row tile for one vocabulary group: z (the tile's logits, [nr, V] at
// stride V) becomes dz in place over the group's vocab tiles, then dlm_t += dz^T x and
// part += dz W_t.
// With a teacher (its logits for the tile's rows at stride V and their logsumexp) the
// target is the teacher's distribution p instead of the one-hot: dz = (softmax(z) - p) /
// count, and kl[r] gets this group's share of KL(p || softmax(z)) for row r.
void head_group_backward(const MatrixView& lm, const float* x, float* z, int64_t nr, const int32_t* targets,
                         const double* lse, double inv_count, int64_t vt0, int64_t vt1, float* part, float* dlm,
                         bool accumulate_dlm, const float* teacher, const double* teacher_lse, double* kl) {
  const int64_t V = lm.rows, H = lm.cols;
  std::vector<float> zt(static_cast<size_t>(nr * kVocabTile));
  std::fill(part, part + nr * H, 0.0f);
  for (int64_t vi = vt0; vi < vt1; ++vi) {
    const int64_t v0 = vi * kVocabTile, nv = std::min(kVocabTile, V - v0);
    for (int64_t r = 0; r < nr; ++r) {
      const int32_t t = targets[r];
      float* zr = z + r * V + v0;
      if (teacher) {
        const float* tr = teacher + r * V + v0;
        double k = 0.0;
        for (int64_t j = 0; j < nv; ++j) {
          if (t < 0) {
            zr[j] = 0.0f;
            continue;
          }
          const double log_q = static_cast<double>(zr[j]) - lse[r], log_p = static_cast<double>(tr[j]) - teacher_lse[r];
          const double p = std::exp(log_p);
          if (p > 0.0) k += p * (log_p - log_q);
          zr[j] = static_cast<float>((std::exp(log_q) - p) * inv_count);
        }
        kl[r] += k;
        continue;
      }
      for (int64_t j = 0; j < nv; ++j) {
        const double p = t < 0 ? 0.0 : std::exp(static_cast<double>(zr[j]) - lse[r]);
        zr[j] = static_cast<float>((p - (v0 + j == t ? 1.0 : 0.0)) * inv_count);
      }
    }
    if (dlm) {
      // dlm_t += dz^T x (x rows [nr, H] as stored).
      transpose_to_f32(z + v0, DType::F32, 0, V, nr, nv, zt.data(), nr, false);
      matmul_nn(zt.data(), nr, nv, f32_matrix(x, nr, H), H, dlm + v0 * H, H, accumulate_dlm, false);
    }
    // part += dz W_t (W_t [nv, H] as stored).
    matmul_nn(z + v0, V, nr, row_slice(lm, v0, nv), H, part, H, true, false);
  }
}

}  // namespace

NllTotal nll_backward(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* dhidden,
                      const HeadGrads& g, const float* teacher) {
  const int64_t V = head.lm.rows, H = head.lm.cols;
  check_targets(targets, rows, V);
  const std::vector<float> x = head_input(head, hidden, rows);
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) count += targets[r] >= 0;
  const double inv_count = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  const int64_t vt = (V + kVocabTile - 1) / kVocabTile, groups = std::min(kVocabGroups, vt);
  // One row tile's logits (never all rows'), its tile stats, the groups' shares of dx.
  std::vector<float> z(static_cast<size_t>(kRowTile * V)), tmax(static_cast<size_t>(vt * kRowTile));
  std::vector<double> tsum(tmax.size()), lse(static_cast<size_t>(kRowTile));
  std::vector<float> target(static_cast<size_t>(kRowTile)), parts(static_cast<size_t>(groups * kRowTile * H));
  std::vector<float> dx(static_cast<size_t>(rows * H));
  // With a teacher: each row's teacher logsumexp, and each group's share of each row's KL.
  std::vector<double> tlse(teacher ? static_cast<size_t>(kRowTile) : 0), kl(teacher ? static_cast<size_t>(groups * kRowTile) : 0);
  NllTotal total;
  // Row tiles as the forward's nll_rows takes them, so the loss has its bits.
  for (int64_t r0 = 0; r0 < rows; r0 += kRowTile) {
    const int64_t nr = std::min(kRowTile, rows - r0);
    const float* xr = x.data() + r0 * H;
    std::fill(target.begin(), target.end(), std::numeric_limits<float>::quiet_NaN());
    parallel_for(static_cast<size_t>(vt), 1, [&](size_t, size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) {
        const int64_t vi = static_cast<int64_t>(t), v0 = vi * kVocabTile, nv = std::min(kVocabTile, V - v0);
        matmul_strided(xr, H, nr, row_slice(head.lm, v0, nv), H, nullptr, z.data() + v0, V, false);
        for (int64_t r = 0; r < nr; ++r)
          tile_stats(z.data() + r * V + v0, nv, v0, targets[r0 + r], tmax[static_cast<size_t>(vi * nr + r)],
                     tsum[static_cast<size_t>(vi * nr + r)], target[static_cast<size_t>(r)]);
      }
    });
    const float* tt = teacher ? teacher + r0 * V : nullptr;
    for (int64_t r = 0; r < nr; ++r) {
      lse[static_cast<size_t>(r)] = merge_lse(tmax.data() + r, tsum.data() + r, vt, nr);
      if (targets[r0 + r] < 0) continue;
      if (!teacher) total.sum += lse[static_cast<size_t>(r)] - static_cast<double>(target[static_cast<size_t>(r)]);
      total.count += 1;
    }
    if (teacher) {
      parallel_for(static_cast<size_t>(nr), 8, [&](size_t, size_t a, size_t b) {
        for (size_t r = a; r < b; ++r) tlse[r] = logsumexp_row(tt + r * static_cast<size_t>(V), V);
      });
      std::fill(kl.begin(), kl.end(), 0.0);
    }
    parallel_for(static_cast<size_t>(groups), 1, [&](size_t, size_t g0, size_t g1) {
      for (size_t gi = g0; gi < g1; ++gi) {
        const int64_t gr = static_cast<int64_t>(gi);
        head_group_backward(head.lm, xr, z.data(), nr, targets + r0, lse.data(), inv_count, gr * vt / groups,
                            (gr + 1) * vt / groups, parts.data() + gi * static_cast<size_t>(kRowTile * H), g.lm,
                            g.lm_accumulate || r0 > 0, tt, tlse.data(), teacher ? kl.data() + gi * kRowTile : nullptr);
      }
    });
    if (teacher)
      for (int64_t r = 0; r < nr; ++r)
        for (int64_t gi = 0; gi < groups; ++gi) total.sum += kl[static_cast<size_t>(gi * kRowTile + r)];
    const size_t n = static_cast<size_t>(nr * H);
    parallel_for(n, 1 << 14, [&](size_t, size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        float s = 0.0f;
        for (int64_t gi = 0; gi < groups; ++gi) s += parts[static_cast<size_t>(gi * kRowTile * H) + i];
        dx[static_cast<size_t>(r0 * H) + i] = s;
      }
    });
  }
  if (head.has_norm)
    norm_backward(head.norm, hidden, dx.data(), dhidden, false, g.norm_weight, g.norm_bias, rows, H);
  else
    std::copy(dx.begin(), dx.end(), dhidden);
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
