#include "cpu/kmeans1d.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "cpu/bitmask.h"

namespace shears {
namespace {

// Rows per chunk when gathering and writing: fixed, so chunk boundaries never depend on threads.
constexpr size_t kRowGrain = 16;

// The kept values, in row-major order (each chunk's values, chunks in order).
std::vector<float> gather_kept(const MatrixView& w, const uint8_t* keep) {
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  std::vector<std::vector<float>> parts(chunk_count(rows, kRowGrain));
  std::vector<size_t> bad(parts.size(), SIZE_MAX);
  parallel_for(rows, kRowGrain, [&](size_t c, size_t lo, size_t hi) {
    auto& out = parts[c];
    for (size_t i = lo * cols; i < hi * cols; ++i) {
      if (!get_bit(keep, i)) continue;
      const float x = load_f32(w.data, w.dtype, i);
      if (!std::isfinite(x) && bad[c] == SIZE_MAX) bad[c] = i;
      out.push_back(x);
    }
  });
  for (size_t i : bad)
    if (i != SIZE_MAX)
      fail(kNonFinite, "W has a non-finite kept weight at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  size_t n = 0;
  for (auto& p : parts) n += p.size();
  std::vector<float> v;
  v.reserve(n);
  for (auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

// Sorts v: pieces sorted in parallel, then merged pairwise, level by level.
void parallel_sort(std::vector<float>& v) {
  constexpr size_t kPieces = 16;
  const size_t n = v.size();
  if (n < (size_t{1} << 16)) {
    std::sort(v.begin(), v.end());
    return;
  }
  const size_t piece = (n + kPieces - 1) / kPieces;
  parallel_for(kPieces, 1, [&](size_t, size_t lo, size_t hi) {
    for (size_t p = lo; p < hi; ++p) std::sort(v.begin() + std::min(n, p * piece), v.begin() + std::min(n, (p + 1) * piece));
  });
  std::vector<float> tmp(n);
  for (size_t width = piece; width < n; width *= 2) {
    const size_t pairs = (n + 2 * width - 1) / (2 * width);
    parallel_for(pairs, 1, [&](size_t, size_t lo, size_t hi) {
      for (size_t p = lo; p < hi; ++p) {
        const size_t a = p * 2 * width, m = std::min(n, a + width), e = std::min(n, a + 2 * width);
        std::merge(v.begin() + a, v.begin() + m, v.begin() + m, v.begin() + e, tmp.begin() + a);
      }
    });
    v.swap(tmp);
  }
}

// Cluster i of the sorted values is [ends[i-1], ends[i]): the values <= the midpoint between
// centroids i and i+1 (a value on a midpoint goes to the lower cluster).
void assign(const std::vector<float>& v, const std::vector<double>& c, std::vector<size_t>& ends) {
  const size_t k = c.size();
  for (size_t i = 0; i + 1 < k; ++i) {
    const double mid = 0.5 * (c[i] + c[i + 1]);
    ends[i] = static_cast<size_t>(std::upper_bound(v.begin(), v.end(), mid, [](double m, float x) { return m < x; }) - v.begin());
  }
  ends[k - 1] = v.size();
}

double sse_of(const std::vector<float>& v, const std::vector<double>& c, const std::vector<size_t>& ends) {
  const size_t k = c.size();
  std::vector<double> part(k, 0.0);
  parallel_for(k, 1, [&](size_t, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      double s = 0;
      for (size_t j = i == 0 ? 0 : ends[i - 1]; j < ends[i]; ++j) {
        const double d = v[j] - c[i];
        s += d * d;
      }
      part[i] = s;
    }
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

// Kept weights plus filler zeros for relative indices of index_bits bits: a stored distance is
// in [1, 2^index_bits], so a gap of g > 2^index_bits costs ceil(g / 2^index_bits) - 1 fillers.
// The first kept weight's distance counts from position -1. Chunks record their first and last
// kept position and are joined in order.
size_t relative_index_entries(const uint8_t* keep, size_t n, int index_bits) {
  const size_t span = size_t{1} << index_bits;
  const auto fillers = [span](size_t gap) { return gap > span ? (gap + span - 1) / span - 1 : 0; };
  struct Chunk {
    size_t first = SIZE_MAX, last = 0, kept = 0, inner = 0;
  };
  constexpr size_t kGrain = size_t{1} << 16;
  std::vector<Chunk> chunks(chunk_count(n, kGrain));
  parallel_for(n, kGrain, [&](size_t c, size_t lo, size_t hi) {
    Chunk& ch = chunks[c];
    for (size_t i = lo; i < hi; ++i) {
      if (!get_bit(keep, i)) continue;
      if (ch.first == SIZE_MAX) ch.first = i;
      else ch.inner += fillers(i - ch.last);
      ch.last = i;
      ++ch.kept;
    }
  });
  size_t entries = 0, previous = 0;
  bool any = false;
  for (const Chunk& ch : chunks) {
    if (ch.first == SIZE_MAX) continue;
    entries += ch.kept + ch.inner + fillers(any ? ch.first - previous : ch.first + 1);
    previous = ch.last;
    any = true;
  }
  return entries;
}

float round_to(float x, DType t) {
  if (t == DType::F16) return f16_to_f32(f32_to_f16(x));
  if (t == DType::BF16) return bf16_to_f32(f32_to_bf16(x));
  return x;
}

void store(void* data, DType t, size_t i, float x) {
  if (t == DType::F32) static_cast<float*>(data)[i] = x;
  else static_cast<uint16_t*>(data)[i] = t == DType::F16 ? f32_to_f16(x) : f32_to_bf16(x);
}

}  // namespace

KmeansResult kmeans_cluster(const MatrixView& w, const uint8_t* keep, int bits, int max_iterations, int index_bits) {
  if (bits < 1 || bits > 8) fail(kRangeError, "bits must be an integer in [1, 8], got " + std::to_string(bits));
  if (index_bits < 1 || index_bits > 16) fail(kRangeError, "indexBits must be an integer in [1, 16], got " + std::to_string(index_bits));
  if (max_iterations < 1) fail(kRangeError, "maxIterations must be >= 1");
  const size_t k = size_t{1} << bits;
  KmeansResult r;
  r.centroids.assign(k, 0.0);
  r.written.assign(k, 0.0f);
  r.counts.assign(k, 0);
  std::vector<float> v = gather_kept(w, keep);
  r.kept = v.size();
  r.relative_entries = relative_index_entries(keep, w.numel(), index_bits);
  if (v.empty()) {
    r.converged = true;
    return r;
  }
  parallel_sort(v);
  std::vector<double> prefix(v.size() + 1, 0.0);
  for (size_t j = 0; j < v.size(); ++j) prefix[j + 1] = prefix[j] + v[j];
  // Linear initialization between the smallest and the largest kept weight.
  const double lo = v.front(), hi = v.back();
  std::vector<double>& c = r.centroids;
  for (size_t i = 0; i < k; ++i) c[i] = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(k - 1);
  std::vector<size_t> ends(k), previous(k, SIZE_MAX);
  assign(v, c, ends);
  r.sse_initial = sse_of(v, c, ends);
  while (r.iterations < max_iterations) {
    for (size_t i = 0; i < k; ++i) {
      const size_t b = i == 0 ? 0 : ends[i - 1], e = ends[i];
      if (e > b) c[i] = (prefix[e] - prefix[b]) / static_cast<double>(e - b);
    }
    previous = ends;
    assign(v, c, ends);
    ++r.iterations;
    if (ends == previous) {
      r.converged = true;
      break;
    }
  }
  // ends is the assignment to the final centroids (the one the matrix gets).
  r.sse_final = sse_of(v, c, ends);
  std::vector<double> mids(k - 1);
  for (size_t i = 0; i + 1 < k; ++i) mids[i] = 0.5 * (c[i] + c[i + 1]);
  for (size_t i = 0; i < k; ++i) {
    r.written[i] = round_to(static_cast<float>(c[i]), w.dtype);
    r.counts[i] = ends[i] - (i == 0 ? 0 : ends[i - 1]);
  }
  // Write each kept weight's shared value; the squared error of what was written, per chunk.
  const size_t rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  r.sse_written = parallel_sum<double>(rows, kRowGrain, [&](size_t rlo, size_t rhi) {
    double s = 0;
    for (size_t i = rlo * cols; i < rhi * cols; ++i) {
      if (!get_bit(keep, i)) continue;
      const float x = load_f32(w.data, w.dtype, i);
      const size_t at = static_cast<size_t>(std::lower_bound(mids.begin(), mids.end(), static_cast<double>(x)) - mids.begin());
      const float q = r.written[at];
      store(w.data, w.dtype, i, q);
      const double d = static_cast<double>(x) - q;
      s += d * d;
    }
    return s;
  });
  return r;
}

}  // namespace shears
