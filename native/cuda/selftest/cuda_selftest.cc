// Differential self-test of the CUDA backend against the CPU backend (the oracle),
// runnable without Node (GPU machines may lack it): masks, scores and weights must be
// bit-identical, column statistics within 1e-12 relative, errors the same code and
// message. Usage: shears_cuda_selftest [--seed N] [--no-large] [--cpu-vs-cpu].
// --cpu-vs-cpu compares the CPU backend with itself: a check of this harness on
// machines without a GPU, not of the CUDA kernels. Prints "N passed, N failed" last;
// exits 0 when all passed, 1 on a failure, 2 when there is no usable device.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"

using namespace shears;

namespace {

int passed = 0, failed = 0;

void expect(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failed <= 50) std::fprintf(stderr, "FAIL %s\n", what.c_str());
  }
}

std::string first_diff(const void* a, const void* b, size_t bytes) {
  const uint8_t *x = static_cast<const uint8_t*>(a), *y = static_cast<const uint8_t*>(b);
  for (size_t i = 0; i < bytes; ++i)
    if (x[i] != y[i])
      return " (first difference at byte " + std::to_string(i) + ": cuda " + std::to_string(x[i]) + " vs cpu " +
             std::to_string(y[i]) + ")";
  return "";
}

void expect_same(const void* gpu, const void* cpu, size_t bytes, const std::string& what) {
  bool same = std::memcmp(gpu, cpu, bytes) == 0;
  expect(same, what + (same ? "" : first_diff(gpu, cpu, bytes)));
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 32);
  }
  double uni() { return (next() + 0.5) / 4294967296.0; }
  float gauss() { return static_cast<float>(std::sqrt(-2.0 * std::log(uni())) * std::cos(6.283185307179586 * uni())); }
};

enum Kind { Normal, Extreme, Ties };
const char* kind_name(Kind k) { return k == Normal ? "normal" : k == Extreme ? "extreme" : "ties"; }

std::vector<float> floats(size_t n, Kind kind, Rng& r) {
  static const float ext[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1.2e-38f, 3e38f, -3e38f, 1e30f, -1e-30f, 65504.0f, 1e-7f};
  static const float ties[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, 0.5f, -2.0f};
  std::vector<float> v(n);
  for (auto& x : v) {
    if (kind == Ties) x = ties[r.next() % 7];
    else if (kind == Extreme && (r.next() & 1)) x = ext[r.next() % 11];
    else x = r.gauss() * (kind == Extreme ? std::pow(10.0f, static_cast<float>(static_cast<int>(r.next() % 20) - 10)) : 1.0f);
  }
  return v;
}

std::vector<float> statistic(size_t n, Rng& r) {
  std::vector<float> v(n);
  for (auto& x : v)
    x = r.uni() < 0.1 ? 0.0f : std::fabs(r.gauss()) * std::pow(10.0f, static_cast<float>(static_cast<int>(r.next() % 6) - 3));
  return v;
}

// A weight matrix in its storage dtype (finite values; halves from random bit patterns).
struct Mat {
  std::vector<uint8_t> bytes;
  DType dtype;
  int64_t rows, cols;
  MatrixView view() { return MatrixView{bytes.data(), dtype, rows, cols}; }
};

Mat make_matrix(int64_t rows, int64_t cols, DType t, Kind kind, Rng& r) {
  size_t n = static_cast<size_t>(rows * cols);
  Mat m{std::vector<uint8_t>(n * dtype_size(t)), t, rows, cols};
  if (t == DType::F32) {
    auto v = floats(n, kind, r);
    std::memcpy(m.bytes.data(), v.data(), n * 4);
    return m;
  }
  uint16_t* h = reinterpret_cast<uint16_t*>(m.bytes.data());
  uint16_t exp = t == DType::F16 ? 0x7c00 : 0x7f80, one = t == DType::F16 ? 0x3c00 : 0x3f80;
  const uint16_t tie[] = {0, 0x8000, one, static_cast<uint16_t>(one | 0x8000), static_cast<uint16_t>(one + 1)};
  for (size_t i = 0; i < n; ++i) {
    if (kind == Ties) {
      h[i] = tie[r.next() % 5];
      continue;
    }
    uint16_t v;
    do v = static_cast<uint16_t>(r.next());
    while ((v & exp) == exp);
    h[i] = v;
  }
  return m;
}

std::vector<uint8_t> garbage(size_t n, Rng& r) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(r.next());
  return v;
}

struct Outcome {
  std::string code, message;
  bool operator==(const Outcome& o) const { return code == o.code && message == o.message; }
};
Outcome run(const std::function<void()>& f) {
  try {
    f();
    return {"ok", ""};
  } catch (const Error& e) {
    return {e.code, e.what()};
  } catch (const std::exception& e) {
    return {"std::exception", e.what()};
  }
}

size_t mask_bytes(int64_t rows, int64_t cols) { return (static_cast<size_t>(rows * cols) + 7) / 8; }
const char* dname(DType t) { return dtype_name(t); }

std::string sel_name(const Selection& s) {
  if (s.nm()) return std::to_string(s.n) + ":" + std::to_string(s.m);
  return std::string(s.granularity == Granularity::Row ? "row " : "matrix ") + std::to_string(s.sparsity);
}

Selection sel_of(double s, Granularity g, int n = 0, int m = 0) {
  Selection x;
  x.sparsity = s;
  x.granularity = g;
  x.n = n;
  x.m = m;
  return x;
}

const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1},   {1, 7},    {2, 3},     {3, 5},    {5, 33},
                                                          {17, 256}, {9, 1031}, {64, 1000}, {300, 67}, {1, 9000}};
const DType kDtypes[] = {DType::F32, DType::F16, DType::BF16};
const Kind kKinds[] = {Normal, Extreme, Ties};

std::vector<Selection> selections() {
  return {sel_of(0, Granularity::Row),          sel_of(0.1, Granularity::Row),      sel_of(0.5, Granularity::Row),
          sel_of(1.0 / 3, Granularity::Row),    sel_of(0.999, Granularity::Row),    sel_of(0, Granularity::Matrix),
          sel_of(0.5, Granularity::Matrix),     sel_of(0.7, Granularity::Matrix),   sel_of(0.999, Granularity::Matrix),
          sel_of(0, Granularity::Row, 2, 4),    sel_of(0, Granularity::Row, 1, 3),  sel_of(0, Granularity::Row, 4, 8),
          sel_of(0, Granularity::Row, 1, 2),    sel_of(0, Granularity::Row, 3, 32)};
}

void test_score(Backend& cpu, Backend& gpu, Rng& r) {
  const double pq[][2] = {{1, 0}, {1, 1}, {2, 1}, {1, 0.5}, {0.5, 2}, {1.5, 0.75}};
  for (auto [rows, cols] : kShapes)
    for (DType t : kDtypes)
      for (Kind k : kKinds) {
        Mat w = make_matrix(rows, cols, t, k, r);
        auto act = statistic(static_cast<size_t>(cols), r);
        for (auto& e : pq) {
          ScoreParams sp;
          sp.p = e[0];
          sp.q = e[1];
          sp.act = e[1] != 0.0 ? act.data() : nullptr;
          size_t n = static_cast<size_t>(rows * cols);
          std::vector<float> a(n), b(n);
          cpu.score(w.view(), sp, a.data());
          Outcome o = run([&] { gpu.score(w.view(), sp, b.data()); });
          std::string what = "score " + std::to_string(rows) + "x" + std::to_string(cols) + " " + dname(t) + " " +
                             kind_name(k) + " p=" + std::to_string(e[0]) + " q=" + std::to_string(e[1]);
          if (!(o.code == "ok")) {
            expect(false, what + ": " + o.message);
            continue;
          }
          if (e[0] == 1.5) {  // pow(): within 1 ulp
            bool ok = true;
            for (size_t i = 0; i < n; ++i) {
              int32_t x, y;
              std::memcpy(&x, &a[i], 4);
              std::memcpy(&y, &b[i], 4);
              ok &= std::abs(static_cast<int64_t>(x) - y) <= 1;
            }
            expect(ok, what + " within 1 ulp");
          } else {
            expect_same(b.data(), a.data(), n * 4, what);
          }
        }
      }
}

void test_select(Backend& cpu, Backend& gpu, Rng& r) {
  for (auto [rows, cols] : kShapes)
    for (Kind k : kKinds) {
      auto scores = floats(static_cast<size_t>(rows * cols), k, r);
      for (const Selection& sel : selections()) {
        auto g = garbage(mask_bytes(rows, cols), r);
        std::vector<uint8_t> ba = g, bb = g;
        std::vector<uint32_t> pa(rows), pb(rows);
        cpu.select(scores.data(), rows, cols, sel, MaskOut{ba.data(), pa.data()});
        Outcome o = run([&] { gpu.select(scores.data(), rows, cols, sel, MaskOut{bb.data(), pb.data()}); });
        std::string what = "select " + std::to_string(rows) + "x" + std::to_string(cols) + " " + kind_name(k) + " " +
                           sel_name(sel);
        expect(o.code == "ok", what + " ran: " + o.message);
        expect_same(bb.data(), ba.data(), ba.size(), what + " bits");
        expect_same(pb.data(), pa.data(), pa.size() * 4, what + " prunedPerRow");
      }
    }
}

void test_global(Backend& cpu, Backend& gpu, Rng& r) {
  const std::vector<std::vector<std::pair<int64_t, int64_t>>> groups = {
      {{1, 1}}, {{3, 5}, {1, 1}, {17, 256}}, {{64, 1000}, {9, 1031}, {2, 3}}, {{1, 9000}, {300, 67}}};
  for (auto& shapes : groups)
    for (Kind k : kKinds)
      for (double s : {0.0, 0.25, 0.5, 0.9, 0.999}) {
        std::vector<std::vector<float>> sc;
        std::vector<std::vector<uint8_t>> ba, bb;
        std::vector<std::vector<uint32_t>> pa, pb;
        for (auto [rows, cols] : shapes) {
          sc.push_back(floats(static_cast<size_t>(rows * cols), k, r));
          auto g = garbage(mask_bytes(rows, cols), r);
          ba.push_back(g);
          bb.push_back(g);
          pa.emplace_back(rows);
          pb.emplace_back(rows);
        }
        std::vector<GlobalItem> ia, ib;
        for (size_t i = 0; i < shapes.size(); ++i) {
          ia.push_back({sc[i].data(), shapes[i].first, shapes[i].second, MaskOut{ba[i].data(), pa[i].data()}});
          ib.push_back({sc[i].data(), shapes[i].first, shapes[i].second, MaskOut{bb[i].data(), pb[i].data()}});
        }
        cpu.select_global(ia, s);
        Outcome o = run([&] { gpu.select_global(ib, s); });
        std::string what = "selectGlobal " + std::to_string(shapes.size()) + " items " + kind_name(k) + " s=" +
                           std::to_string(s);
        expect(o.code == "ok", what + " ran: " + o.message);
        for (size_t i = 0; i < shapes.size(); ++i) {
          expect_same(bb[i].data(), ba[i].data(), ba[i].size(), what + " item " + std::to_string(i) + " bits");
          expect_same(pb[i].data(), pa[i].data(), pa[i].size() * 4, what + " item " + std::to_string(i) + " ppr");
        }
      }
}

void test_apply(Backend& cpu, Backend& gpu, Rng& r) {
  for (auto [rows, cols] : kShapes)
    for (DType t : kDtypes) {
      Mat wa = make_matrix(rows, cols, t, Normal, r), wb = wa;
      auto bits = garbage(mask_bytes(rows, cols), r);
      std::vector<uint32_t> pa(rows), pb(rows);
      cpu.apply_mask(wa.view(), bits.data(), pa.data());
      Outcome o = run([&] { gpu.apply_mask(wb.view(), bits.data(), pb.data()); });
      std::string what = "applyMask " + std::to_string(rows) + "x" + std::to_string(cols) + " " + dname(t);
      expect(o.code == "ok", what + " ran: " + o.message);
      expect_same(wb.bytes.data(), wa.bytes.data(), wa.bytes.size(), what + " weights");
      expect_same(pb.data(), pa.data(), pa.size() * 4, what + " prunedPerRow");
    }
}

void prune_case(Backend& cpu, Backend& gpu, const Mat& w0, const ScoreParams& sp, const Selection& sel,
                const std::string& what, Rng& r, bool timed = false) {
  Mat wa = w0, wb = w0;
  auto g = garbage(mask_bytes(w0.rows, w0.cols), r);
  std::vector<uint8_t> ba = g, bb = g;
  std::vector<uint32_t> pa(w0.rows), pb(w0.rows);
  auto t0 = std::chrono::steady_clock::now();
  cpu.prune(wa.view(), sp, sel, MaskOut{ba.data(), pa.data()});
  auto t1 = std::chrono::steady_clock::now();
  Outcome o = run([&] { gpu.prune(wb.view(), sp, sel, MaskOut{bb.data(), pb.data()}); });
  auto t2 = std::chrono::steady_clock::now();
  expect(o.code == "ok", what + " ran: " + o.message);
  expect_same(wb.bytes.data(), wa.bytes.data(), wa.bytes.size(), what + " weights");
  expect_same(bb.data(), ba.data(), ba.size(), what + " bits");
  expect_same(pb.data(), pa.data(), pa.size() * 4, what + " prunedPerRow");
  if (timed)
    std::printf("info: %s: cpu %.1f ms, cuda %.1f ms (copies included)\n", what.c_str(),
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());
}

void test_prune(Backend& cpu, Backend& gpu, Rng& r) {
  auto all = selections();
  std::vector<Selection> sels;
  for (size_t i = 0; i < all.size(); i += 2) sels.push_back(all[i]);
  sels.push_back(sel_of(0.5, Granularity::Matrix));
  const double pq[][2] = {{1, 0}, {1, 1}, {2, 0.5}};
  for (auto [rows, cols] : kShapes)
    for (DType t : kDtypes)
      for (Kind k : kKinds)
        for (auto& e : pq) {
          Mat w0 = make_matrix(rows, cols, t, k, r);
          auto act = statistic(static_cast<size_t>(cols), r);
          ScoreParams sp;
          sp.p = e[0];
          sp.q = e[1];
          sp.act = e[1] != 0.0 ? act.data() : nullptr;
          for (const Selection& sel : sels)
            prune_case(cpu, gpu, w0, sp, sel,
                       "prune " + std::to_string(rows) + "x" + std::to_string(cols) + " " + dname(t) + " " +
                           kind_name(k) + " p=" + std::to_string(e[0]) + " q=" + std::to_string(e[1]) + " " +
                           sel_name(sel),
                       r);
        }
}

// Sizes of real layers: many blocks per row, many tiles, grid-stride loops.
void test_large(Backend& cpu, Backend& gpu, Rng& r) {
  for (DType t : {DType::F16, DType::BF16}) {
    Mat w0 = make_matrix(4096, 11008, t, Normal, r);
    auto act = statistic(11008, r);
    ScoreParams sp;
    sp.p = 1;
    sp.q = 1;
    sp.act = act.data();
    for (const Selection& sel : {sel_of(0.5, Granularity::Row), sel_of(0.5, Granularity::Matrix),
                                 sel_of(0, Granularity::Row, 2, 4)})
      prune_case(cpu, gpu, w0, sp, sel, std::string("prune 4096x11008 ") + dname(t) + " wanda " + sel_name(sel), r,
                 true);
  }
  Mat wide = make_matrix(3, 200003, DType::F32, Ties, r);
  ScoreParams mag;
  prune_case(cpu, gpu, wide, mag, sel_of(0.37, Granularity::Row), "prune 3x200003 f32 ties row 0.37", r, true);
  // global over several large matrices
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {7, 13}};
  std::vector<std::vector<float>> sc;
  std::vector<std::vector<uint8_t>> ba, bb;
  std::vector<std::vector<uint32_t>> pa, pb;
  for (auto [rows, cols] : shapes) {
    sc.push_back(floats(static_cast<size_t>(rows * cols), Extreme, r));
    ba.emplace_back(mask_bytes(rows, cols));
    bb.emplace_back(mask_bytes(rows, cols));
    pa.emplace_back(rows);
    pb.emplace_back(rows);
  }
  std::vector<GlobalItem> ia, ib;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ia.push_back({sc[i].data(), shapes[i].first, shapes[i].second, MaskOut{ba[i].data(), pa[i].data()}});
    ib.push_back({sc[i].data(), shapes[i].first, shapes[i].second, MaskOut{bb[i].data(), pb[i].data()}});
  }
  auto t0 = std::chrono::steady_clock::now();
  cpu.select_global(ia, 0.6);
  auto t1 = std::chrono::steady_clock::now();
  Outcome o = run([&] { gpu.select_global(ib, 0.6); });
  auto t2 = std::chrono::steady_clock::now();
  expect(o.code == "ok", "large selectGlobal ran: " + o.message);
  for (size_t i = 0; i < shapes.size(); ++i) {
    expect_same(bb[i].data(), ba[i].data(), ba[i].size(), "large selectGlobal item " + std::to_string(i) + " bits");
    expect_same(pb[i].data(), pa[i].data(), pa[i].size() * 4, "large selectGlobal item " + std::to_string(i) + " ppr");
  }
  std::printf("info: selectGlobal 4 matrices (106M scores): cpu %.1f ms, cuda %.1f ms (copies included)\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
}

void test_column_stats(Backend& cpu, Backend& gpu, Rng& r) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{0, 5}, {1, 1}, {7, 3}, {100, 257}, {513, 64}, {2, 5000}, {2048, 4096}};
  for (auto [rows, cols] : shapes)
    for (Kind k : {Normal, Extreme})
      for (bool with_ex : {true, false}) {
        auto x = floats(static_cast<size_t>(rows * cols), k, r);
        auto init = floats(static_cast<size_t>(cols) * 2, Normal, r);
        std::vector<double> sa(init.begin(), init.begin() + cols), qa(cols), ea(cols, 3.0);
        for (int64_t j = 0; j < cols; ++j) qa[j] = std::fabs(init[cols + j]);
        std::vector<double> sb = sa, qb = qa, eb = ea;
        ColumnStatsAcc aa{sa.data(), qa.data(), with_ex ? ea.data() : nullptr, 1.0};
        ColumnStatsAcc ab{sb.data(), qb.data(), with_ex ? eb.data() : nullptr, 1.0};
        cpu.column_stats(x.data(), rows, cols, aa);
        Outcome o = run([&] { gpu.column_stats(x.data(), rows, cols, ab); });
        std::string what = "columnStats " + std::to_string(rows) + "x" + std::to_string(cols) + " " + kind_name(k);
        expect(o.code == "ok", what + " ran: " + o.message);
        bool ok = true;
        for (int64_t j = 0; j < cols; ++j)
          ok &= std::fabs(sa[j] - sb[j]) <= 1e-12 * std::max(std::fabs(sa[j]), std::fabs(sb[j])) &&
                std::fabs(qa[j] - qb[j]) <= 1e-12 * std::max(std::fabs(qa[j]), std::fabs(qb[j]));
        expect(ok, what + " sums within 1e-12");
        expect_same(sb.data(), sa.data(), sa.size() * 8, what + " sums bit-identical (by design)");
        expect_same(qb.data(), qa.data(), qa.size() * 8, what + " sums of squares bit-identical (by design)");
        if (with_ex) expect_same(eb.data(), ea.data(), ea.size() * 8, what + " exceed");
      }
}

// SparseGPT's ops: the CUDA backend hands them to the CPU backend (same bits, same
// errors), but they are reached through the CUDA backend's interface like the others.
void test_sparsegpt(Backend& cpu, Backend& gpu, Rng& r) {
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {40, 24}, {300, 67}, {64, 256}}) {
    auto x = floats(static_cast<size_t>(rows * cols), Normal, r);
    const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
    for (bool f64 : {true, false}) {
      const size_t n = static_cast<size_t>(cols * cols), esz = f64 ? 8 : 4;
      std::vector<uint8_t> sa(n * esz), sb(n * esz);
      cpu.hessian_add(x.data(), rows, cols, HessianSum{sa.data(), f64});
      Outcome o = run([&] { gpu.hessian_add(x.data(), rows, cols, HessianSum{sb.data(), f64}); });
      std::string what = std::string("hessianAdd ") + shape + (f64 ? " f64" : " f32");
      expect(o.code == "ok", what + " ran: " + o.message);
      expect_same(sb.data(), sa.data(), sa.size(), what);
      const int64_t wr = 33;
      auto w0 = floats(static_cast<size_t>(wr * cols), Normal, r);
      std::vector<float> wa = w0, wb = w0;
      std::vector<uint8_t> ma(mask_bytes(wr, cols)), mb(ma.size());
      std::vector<uint32_t> pa(wr), pb(wr);
      SparseGptParams sp;
      sp.sparsity = 0.5;
      sp.block_size = 16;
      Outcome oa = run([&] { cpu.sparsegpt({wa.data(), DType::F32, wr, cols}, {sa.data(), f64}, double(rows), sp, {ma.data(), pa.data()}); });
      Outcome ob = run([&] { gpu.sparsegpt({wb.data(), DType::F32, wr, cols}, {sb.data(), f64}, double(rows), sp, {mb.data(), pb.data()}); });
      what = std::string("sparsegpt ") + shape + (f64 ? " f64" : " f32");
      expect(oa == ob, what + " same outcome: cpu [" + oa.code + "] " + oa.message + ", cuda [" + ob.code + "] " + ob.message);
      expect_same(wb.data(), wa.data(), wa.size() * 4, what + " W");
      expect_same(mb.data(), ma.data(), ma.size(), what + " mask");
    }
    x[x.size() / 2] = std::nanf("");
    std::vector<double> sa(static_cast<size_t>(cols * cols)), sb(sa.size());
    Outcome oa = run([&] { cpu.hessian_add(x.data(), rows, cols, HessianSum{sa.data(), true}); });
    Outcome ob = run([&] { gpu.hessian_add(x.data(), rows, cols, HessianSum{sb.data(), true}); });
    expect(oa == ob && oa.code == kNonFinite, "hessianAdd " + shape + " NaN: the same error (" + ob.message + ")");
  }
}

void test_errors(Backend& cpu, Backend& gpu, Rng& r) {
  auto same = [&](const std::string& what, const std::function<void(Backend&)>& f) {
    Outcome a = run([&] { f(cpu); }), b = run([&] { f(gpu); });
    expect(a.code != "ok", what + ": the CPU fails");
    expect(a == b, what + ": cpu [" + a.code + "] " + a.message + " vs cuda [" + b.code + "] " + b.message);
  };
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {5, 33}, {64, 1000}})
    for (DType t : kDtypes)
      for (bool nan : {true, false}) {
        Mat w0 = make_matrix(rows, cols, t, Normal, r);
        size_t at = static_cast<size_t>(rows * cols * 2 / 3);
        if (t == DType::F32) {
          float v = nan ? NAN : -INFINITY;
          std::memcpy(&w0.bytes[at * 4], &v, 4);
        } else {
          uint16_t v = t == DType::F16 ? (nan ? 0x7e00 : 0xfc00) : (nan ? 0x7fc0 : 0x7f80);
          std::memcpy(&w0.bytes[at * 2], &v, 2);
        }
        std::string tag = std::to_string(rows) + "x" + std::to_string(cols) + " " + dname(t) + (nan ? " NaN" : " Inf");
        ScoreParams mag;
        same("score " + tag, [&](Backend& b) {
          Mat w = w0;
          std::vector<float> s(static_cast<size_t>(rows * cols));
          b.score(w.view(), mag, s.data());
        });
        for (const Selection& sel : {sel_of(0.5, Granularity::Row), sel_of(0.5, Granularity::Matrix),
                                     sel_of(0, Granularity::Row, 2, 4)}) {
          Mat wg = w0;
          same("prune " + tag + " " + sel_name(sel), [&](Backend& b) {
            Mat wc = w0;
            std::vector<uint8_t> bits(mask_bytes(rows, cols));
            b.prune(&b == &gpu ? wg.view() : wc.view(), mag, sel, MaskOut{bits.data(), nullptr});
          });
          expect_same(wg.bytes.data(), w0.bytes.data(), w0.bytes.size(), "W intact after failed prune " + tag);
        }
        auto scores = floats(static_cast<size_t>(rows * cols), Normal, r);
        scores[at] = NAN;
        for (const Selection& sel : {sel_of(0.5, Granularity::Row), sel_of(0.5, Granularity::Matrix),
                                     sel_of(0, Granularity::Row, 2, 4)})
          same("select NaN " + tag + " " + sel_name(sel), [&](Backend& b) {
            std::vector<uint8_t> bits(mask_bytes(rows, cols));
            b.select(scores.data(), rows, cols, sel, MaskOut{bits.data(), nullptr});
          });
        same("selectGlobal NaN in second item " + tag, [&](Backend& b) {
          std::vector<float> ok = floats(6, Normal, r);
          std::vector<uint8_t> b1(1), b2(mask_bytes(rows, cols));
          std::vector<GlobalItem> items{{ok.data(), 2, 3, MaskOut{b1.data(), nullptr}},
                                        {scores.data(), rows, cols, MaskOut{b2.data(), nullptr}}};
          b.select_global(items, 0.5);
        });
        auto x = floats(static_cast<size_t>(rows * cols), Normal, r);
        x[at] = nan ? NAN : INFINITY;
        same("columnStats " + tag, [&](Backend& b) {
          std::vector<double> s(cols), q(cols);
          ColumnStatsAcc acc{s.data(), q.data(), nullptr, 0.0};
          b.column_stats(x.data(), rows, cols, acc);
        });
      }
  Mat w = make_matrix(3, 4, DType::F32, Normal, r);
  std::vector<float> neg = {1, -1, 1, 1};
  ScoreParams bad;
  bad.q = 1;
  bad.act = neg.data();
  same("negative statistic", [&](Backend& b) {
    Mat c = w;
    std::vector<uint8_t> bits(2);
    b.prune(c.view(), bad, sel_of(0.5, Granularity::Row), MaskOut{bits.data(), nullptr});
  });
  same("sparsity 1", [&](Backend& b) {
    Mat c = w;
    std::vector<uint8_t> bits(2);
    b.prune(c.view(), ScoreParams{}, sel_of(1.0, Granularity::Row), MaskOut{bits.data(), nullptr});
  });
  same("pattern 4:4", [&](Backend& b) {
    std::vector<float> s(12, 1.0f);
    std::vector<uint8_t> bits(2);
    b.select(s.data(), 3, 4, sel_of(0, Granularity::Row, 4, 4), MaskOut{bits.data(), nullptr});
  });
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 12345;
  bool large = true, self_check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--no-large") large = false;
    else if (a == "--cpu-vs-cpu") self_check = true;
    else {
      std::fprintf(stderr, "usage: shears_cuda_selftest [--seed N] [--no-large] [--cpu-vs-cpu]\n");
      return 64;
    }
  }
  std::printf("cuda: %s\n", cuda_status().c_str());
  Backend* gpu = self_check ? &cpu_backend() : cuda_backend();
  if (self_check) std::printf("--cpu-vs-cpu: checking the harness, not the CUDA kernels\n");
  if (!gpu) {
    std::printf("no usable CUDA device: nothing to test\n0 passed, 0 failed\n");
    return 2;
  }
  Backend& cpu = cpu_backend();
  Rng r(seed);
  const std::pair<const char*, void (*)(Backend&, Backend&, Rng&)> groups[] = {
      {"score", test_score},     {"select", test_select},   {"selectGlobal", test_global},
      {"applyMask", test_apply}, {"prune", test_prune},     {"columnStats", test_column_stats},
      {"sparsegpt", test_sparsegpt}, {"errors", test_errors}, {"large", test_large}};
  for (auto& [name, fn] : groups) {
    if (!large && std::string(name) == "large") continue;
    int f0 = failed, p0 = passed;
    auto t0 = std::chrono::steady_clock::now();
    Outcome o = run([&] { fn(cpu, *gpu, r); });
    if (o.code != "ok") expect(false, std::string(name) + " threw: [" + o.code + "] " + o.message);
    std::printf("%-13s %5d passed, %4d failed (%.1f s)\n", name, passed - p0, failed - f0,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
