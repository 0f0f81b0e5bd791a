// The CUDA backend: the same results as the CPU oracle (native/cpu/cpu_backend.cc),
// bit for bit for masks, scores and weights. Inputs and outputs are host memory owned
// by JavaScript: every operation copies in, runs its kernels on its own stream and
// copies out. Operations are serialized by a mutex (device memory stays bounded when
// several libuv workers call at once) and select the device first (pool threads vary).
// Validation (parameter ranges, statistics) reuses the CPU backend's checks and messages.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "cpu/score.h"
#include "cpu/select.h"
#include "cuda/cuda_check.h"
#include "cuda/kernels.h"

namespace shears {

namespace {

using cuda::check;

// What the first call found out about device 0 (cached for the process).
struct Probe {
  bool ok = false;
  std::string status;
  int sms = 1;
  bool pools = false;  // stream-ordered allocator (cudaMallocAsync) supported
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.status = std::string("no CUDA device: ") + cudaGetErrorString(e);
      return r;
    }
    if (count == 0) {
      r.status = "no CUDA device: cudaGetDeviceCount found 0 devices";
      return r;
    }
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
      (void)cudaGetLastError();
      r.status = std::string("CUDA device 0 unusable: ") + cudaGetErrorString(e);
      return r;
    }
    std::string desc = std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
                       std::to_string(prop.minor) + ")";
    if ((e = cuda::probe_kernel_image()) != cudaSuccess) {
      (void)cudaGetLastError();
      r.status = desc + " cannot run this build's kernels: " + cudaGetErrorString(e);
      return r;
    }
    int pools = 0;
    if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, 0) != cudaSuccess) {
      (void)cudaGetLastError();
      pools = 0;
    }
    int driver = 0, runtime = 0;
    (void)cudaDriverGetVersion(&driver);
    (void)cudaRuntimeGetVersion(&runtime);
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    r.ok = true;
    r.sms = prop.multiProcessorCount;
    r.pools = pools != 0;
    r.status = desc + ", " + std::to_string(prop.multiProcessorCount) + " SMs, " + mem + ", driver " +
               std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) + ", runtime " +
               std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
    return r;
  }();
  return p;
}

std::string where(int64_t r, int64_t c) { return "row " + std::to_string(r) + ", column " + std::to_string(c); }

constexpr unsigned long long kNone = ~0ull;

// One operation's stream; its destructor waits for the stream so that buffers freed
// before it (declared after it) are no longer in use.
class Stream {
 public:
  Stream() {
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Stream() {
    cudaStreamSynchronize(s_);
    cudaStreamDestroy(s_);
    (void)cudaGetLastError();
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

// Device buffer of n elements, freed (stream-ordered when supported) on destruction.
template <typename T>
class DevBuf {
 public:
  DevBuf(Stream& st, size_t n) : st_(st.get()) {
    size_t bytes = std::max<size_t>(n, 1) * sizeof(T);
    void* p = nullptr;
    cudaError_t e = probe().pools ? cudaMallocAsync(&p, bytes, st_) : cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      fail(kBackendError, "CUDA could not allocate " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(e));
    }
    p_ = static_cast<T*>(p);
  }
  ~DevBuf() {
    if (probe().pools) cudaFreeAsync(p_, st_);
    else cudaFree(p_);
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  cudaStream_t st_;
};

void upload(Stream& st, void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st.get()), "cudaMemcpy to device");
}
void download(Stream& st, void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st.get()), "cudaMemcpy to host");
}
void zero(Stream& st, void* p, size_t bytes, int value = 0) {
  if (bytes) check(cudaMemsetAsync(p, value, bytes, st.get()), "cudaMemset");
}

unsigned long long read_index(Stream& st, const unsigned long long* dev) {
  unsigned long long v = kNone;
  download(st, &v, dev, sizeof v);
  st.sync();
  return v;
}

size_t words_for(size_t bits) { return (bits + 31) / 32; }

// Copies the packed mask of `bits` bits back; padding bits of the last byte keep
// their host value (the CPU writes only bits inside the matrix).
void download_mask(Stream& st, uint8_t* host, const uint32_t* words, size_t bits) {
  size_t bytes = (bits + 7) / 8;
  if (bytes == 0) return;
  uint8_t last = host[bytes - 1];
  download(st, host, words, bytes);
  st.sync();
  if (bits % 8) {
    uint8_t valid = static_cast<uint8_t>((1u << (bits % 8)) - 1u);
    host[bytes - 1] = static_cast<uint8_t>((host[bytes - 1] & valid) | (last & ~valid));
  }
}

// The statistic and spec of a score computation, uploaded when q != 0 or p=q=1.
struct DevScore {
  cuda::ScoreSpec spec;
  std::vector<std::unique_ptr<DevBuf<float>>> hold;
};
DevScore upload_score(Stream& st, const ScoreParams& sp, int64_t cols) {
  DevScore d;
  const float* act = nullptr;
  if (sp.act && sp.q != 0.0) {
    d.hold.emplace_back(new DevBuf<float>(st, static_cast<size_t>(cols)));
    upload(st, d.hold.back()->get(), sp.act, static_cast<size_t>(cols) * 4);
    act = d.hold.back()->get();
  }
  d.spec = cuda::make_score_spec(sp.p, sp.q, act);
  return d;
}

// One array of a k-smallest selection (matrix or global granularity).
struct TopkItem {
  const float* host;  // scores in host memory (uploaded when dev is null)
  const float* dev;   // device-resident scores, or null
  size_t count, cols;
  uint32_t* words;    // device mask words for this array (count bits)
};

// native/cpu/select_topk.cc select_k_smallest over device memory: three radix passes,
// per-tile counts of keys == T, their scan, the mask. Arrays not resident on the device
// are uploaded into `staging` for each pass that reads them.
void select_k_smallest_dev(Stream& st, std::vector<TopkItem>& items, size_t k, int sms, float* staging) {
  size_t total = 0, tiles = 0;
  for (auto& it : items) {
    total += it.count;
    tiles += (it.count + cuda::kTopkTile - 1) / cuda::kTopkTile;
  }
  auto scores_of = [&](TopkItem& it) -> const float* {
    if (it.dev) return it.dev;
    upload(st, staging, it.host, it.count * 4);
    return staging;
  };
  if (k == 0 || k >= total) {
    for (auto& it : items) zero(st, it.words, words_for(it.count) * 4, k == 0 ? 0xff : 0);
    return;
  }
  DevBuf<cuda::RadixState> state(st, 1);
  DevBuf<unsigned long long> hist(st, 2048);
  cuda::RadixState init{0u, 0u, static_cast<unsigned long long>(k)};
  upload(st, state.get(), &init, sizeof init);
  zero(st, hist.get(), 2048 * sizeof(unsigned long long));
  const int shifts[3] = {21, 10, 0}, bits[3] = {11, 11, 10};
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& it : items) cuda::launch_radix_hist(scores_of(it), it.count, state.get(), shifts[pass], bits[pass],
                                                   hist.get(), sms, st.get());
    cuda::launch_radix_pick(hist.get(), shifts[pass], bits[pass], state.get(), st.get());
  }
  DevBuf<uint32_t> counts(st, tiles);
  DevBuf<unsigned long long> offsets(st, tiles);
  size_t t0 = 0;
  for (auto& it : items) {
    cuda::launch_count_eq(scores_of(it), it.count, state.get(), counts.get() + t0, st.get());
    t0 += (it.count + cuda::kTopkTile - 1) / cuda::kTopkTile;
  }
  cuda::launch_scan_counts(counts.get(), tiles, offsets.get(), st.get());
  t0 = 0;
  for (auto& it : items) {
    cuda::launch_topk_mask(scores_of(it), it.count, state.get(), offsets.get() + t0, it.words, st.get());
    t0 += (it.count + cuda::kTopkTile - 1) / cuda::kTopkTile;
  }
}

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }

  void score(const MatrixView& w, const ScoreParams& sp, float* scores) override {
    // Per-weight terms (gradient methods) have no device kernel yet: the CPU computes them.
    if (sp.per_weight) return cpu_backend().score(w, sp, scores);
    check_score_params(sp, static_cast<size_t>(w.rows), static_cast<size_t>(w.cols));
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    size_t n = w.numel();
    DevBuf<uint8_t> wd(st, n * dtype_size(w.dtype));
    DevBuf<float> sd(st, n);
    DevBuf<unsigned long long> bad(st, 1);
    DevScore ds = upload_score(st, sp, w.cols);
    upload(st, wd.get(), w.data, n * dtype_size(w.dtype));
    zero(st, bad.get(), sizeof(unsigned long long), 0xff);
    cuda::launch_score(wd.get(), static_cast<int>(w.dtype), w.rows, w.cols, ds.spec, sd.get(), bad.get(),
                       probe().sms, st.get());
    fail_if_bad_weight(read_index(st, bad.get()), w.cols);
    download(st, scores, sd.get(), n * 4);
    st.sync();
  }

  void select(const float* scores, int64_t rows, int64_t cols, const Selection& sel, MaskOut out) override {
    check_selection(sel);
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    DevBuf<float> sd(st, n);
    DevBuf<uint32_t> words(st, words_for(n));
    DevBuf<unsigned long long> nan(st, 1);
    upload(st, sd.get(), scores, n * 4);
    fail_if_nan(st, sd.get(), n, cols, nan.get());
    select_device(st, sd.get(), rows, cols, sel, words.get());
    finish_mask(st, words.get(), rows, cols, out);
  }

  void select_global(std::vector<GlobalItem>& items, double sparsity) override {
    Selection sel;
    sel.sparsity = sparsity;
    check_selection(sel);
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    size_t total = 0, largest = 0, mask_words = 0;
    for (auto& it : items) {
      size_t n = static_cast<size_t>(it.rows) * static_cast<size_t>(it.cols);
      total += n;
      largest = std::max(largest, n);
      mask_words += words_for(n);
    }
    // Keep every score array on the device when they fit comfortably; otherwise
    // re-upload each array for each pass through one staging buffer.
    size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    bool resident = total * 4 + mask_words * 4 + (64u << 20) < free_b / 10 * 8;
    DevBuf<float> scores(st, resident ? total : largest);
    DevBuf<uint32_t> words(st, mask_words);
    DevBuf<unsigned long long> nan(st, 1);
    std::vector<TopkItem> ti;
    size_t off = 0, woff = 0;
    for (auto& it : items) {
      size_t n = static_cast<size_t>(it.rows) * static_cast<size_t>(it.cols);
      TopkItem t{it.scores, nullptr, n, static_cast<size_t>(it.cols), words.get() + woff};
      const float* dev = scores.get() + (resident ? off : 0);
      upload(st, const_cast<float*>(dev), it.scores, n * 4);
      // The CPU checks every matrix for NaN before selecting: first matrix with one wins.
      fail_if_nan(st, dev, n, it.cols, nan.get());
      if (resident) t.dev = dev;
      ti.push_back(t);
      off += n;
      woff += words_for(n);
    }
    select_k_smallest_dev(st, ti, prune_count(sparsity, total), probe().sms, scores.get());
    for (size_t i = 0; i < items.size(); ++i) finish_mask(st, ti[i].words, items[i].rows, items[i].cols, items[i].out);
  }

  void apply_mask(const MatrixView& w, const uint8_t* bits, uint32_t* pruned_per_row) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    size_t n = w.numel(), bytes = n * dtype_size(w.dtype);
    DevBuf<uint8_t> wd(st, bytes);
    DevBuf<uint32_t> words(st, words_for(n));
    upload(st, wd.get(), w.data, bytes);
    upload(st, words.get(), bits, (n + 7) / 8);
    cuda::launch_apply_mask(wd.get(), static_cast<int>(w.dtype), n, words.get(), probe().sms, st.get());
    if (pruned_per_row) count_pruned(st, words.get(), w.rows, w.cols, pruned_per_row);
    download(st, w.data, wd.get(), bytes);
    st.sync();
  }

  void prune(const MatrixView& w, const ScoreParams& sp, const Selection& sel, MaskOut out) override {
    if (sp.per_weight) return cpu_backend().prune(w, sp, sel, out);
    check_selection(sel);
    check_score_params(sp, static_cast<size_t>(w.rows), static_cast<size_t>(w.cols));
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    const int sms = probe().sms;
    size_t n = w.numel(), bytes = n * dtype_size(w.dtype);
    const int dt = static_cast<int>(w.dtype);
    DevBuf<uint8_t> wd(st, bytes);
    DevBuf<uint32_t> words(st, words_for(n));
    DevBuf<unsigned long long> bad(st, 1);
    DevScore ds = upload_score(st, sp, w.cols);
    upload(st, wd.get(), w.data, bytes);
    zero(st, bad.get(), sizeof(unsigned long long), 0xff);
    zero(st, words.get(), words_for(n) * 4);
    if (!sel.nm() && sel.granularity == Granularity::Matrix) {
      // A matrix-wide threshold needs every score (as on the CPU).
      DevBuf<float> sd(st, n);
      cuda::launch_score(wd.get(), dt, w.rows, w.cols, ds.spec, sd.get(), bad.get(), sms, st.get());
      fail_if_bad_weight(read_index(st, bad.get()), w.cols);
      std::vector<TopkItem> items{{nullptr, sd.get(), n, static_cast<size_t>(w.cols), words.get()}};
      select_k_smallest_dev(st, items, prune_count(sel.sparsity, n), sms, nullptr);
    } else if (sel.nm()) {
      cuda::launch_select_nm(nullptr, wd.get(), dt, ds.spec, w.rows, w.cols, sel.n, sel.m, words.get(), bad.get(),
                             st.get());
      fail_if_bad_weight(read_index(st, bad.get()), w.cols);
    } else {
      // Scored row by row into per-block scratch rows: no full score matrix.
      int grid = cuda::select_rows_grid(w.rows, sms);
      DevBuf<float> scratch(st, static_cast<size_t>(grid) * static_cast<size_t>(w.cols));
      cuda::launch_select_rows(nullptr, wd.get(), dt, ds.spec, w.rows, w.cols, row_k(sel, w.cols), scratch.get(),
                               words.get(), bad.get(), grid, st.get());
      fail_if_bad_weight(read_index(st, bad.get()), w.cols);
    }
    // Every row was checked: only now is W changed.
    cuda::launch_apply_mask(wd.get(), dt, n, words.get(), sms, st.get());
    finish_mask(st, words.get(), w.rows, w.cols, out);
    download(st, w.data, wd.get(), bytes);
    st.sync();
  }

  void column_stats(const float* x, int64_t rows, int64_t cols, ColumnStatsAcc& acc) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stream st;
    size_t c = static_cast<size_t>(cols), n = static_cast<size_t>(rows) * c;
    DevBuf<float> xd(st, n);
    DevBuf<double> sd(st, c), qd(st, c), ed(st, acc.exceed ? c : 0);
    DevBuf<long long> badd(st, c);
    upload(st, xd.get(), x, n * 4);
    cuda::launch_column_stats(xd.get(), rows, cols, static_cast<float>(acc.threshold), sd.get(), qd.get(),
                              acc.exceed ? ed.get() : nullptr, badd.get(), st.get());
    std::vector<double> s(c), q(c), ex(acc.exceed ? c : 0);
    std::vector<long long> bad(c);
    download(st, s.data(), sd.get(), c * 8);
    download(st, q.data(), qd.get(), c * 8);
    if (acc.exceed) download(st, ex.data(), ed.get(), c * 8);
    download(st, bad.data(), badd.get(), c * 8);
    st.sync();
    // The CPU reports, per block of 64 columns, the first column holding a non-finite
    // value (with its first such row), then the lowest row over the blocks.
    long long best_r = -1, best_c = -1;
    for (size_t b = 0; b < c; b += 64) {
      for (size_t j = b; j < std::min(c, b + 64); ++j)
        if (bad[j] >= 0) {
          if (best_r < 0 || bad[j] < best_r) {
            best_r = bad[j];
            best_c = static_cast<long long>(j);
          }
          break;
        }
    }
    if (best_r >= 0) fail(kNonFinite, "activations contain a non-finite value at " + where(best_r, best_c));
    for (size_t j = 0; j < c; ++j) {
      acc.sum[j] += s[j];
      acc.sum_sq[j] += q[j];
      if (acc.exceed) acc.exceed[j] += ex[j];
    }
  }

  // SparseGPT's two ops have no device kernels yet: the CUDA backend hands them to the
  // CPU backend (host memory in and out, so nothing to copy), which makes the choice
  // here, in the backend, rather than in the bindings. Results are the CPU's exactly.
  void hessian_add(const float* x, int64_t rows, int64_t cols, HessianSum s) override {
    cpu_backend().hessian_add(x, rows, cols, s);
  }
  void sparsegpt(const MatrixView& w, HessianSum s, double count, const SparseGptParams& p, MaskOut out) override {
    cpu_backend().sparsegpt(w, s, count, p, out);
  }

 private:
  static uint32_t row_k(const Selection& sel, int64_t cols) {
    size_t k = prune_count(sel.sparsity, static_cast<size_t>(cols));
    return static_cast<uint32_t>(std::min<size_t>(k, static_cast<size_t>(cols)));
  }

  static void fail_if_bad_weight(unsigned long long i, int64_t cols) {
    if (i == kNone) return;
    fail(kNonFinite, "weights contain a non-finite value at " +
                         where(static_cast<int64_t>(i / cols), static_cast<int64_t>(i % cols)));
  }

  static void fail_if_nan(Stream& st, const float* dev, size_t n, int64_t cols, unsigned long long* slot) {
    zero(st, slot, sizeof(unsigned long long), 0xff);
    cuda::launch_find_nan(dev, n, slot, probe().sms, st.get());
    unsigned long long i = read_index(st, slot);
    if (i != kNone)
      fail(kNonFinite, "scores contain NaN at " + where(static_cast<int64_t>(i / cols), static_cast<int64_t>(i % cols)));
  }

  // Selection from device-resident scores into zeroed-or-overwritten mask words.
  static void select_device(Stream& st, const float* sd, int64_t rows, int64_t cols, const Selection& sel,
                            uint32_t* words) {
    size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    zero(st, words, words_for(n) * 4);
    cuda::ScoreSpec none;
    if (sel.nm()) {
      cuda::launch_select_nm(sd, nullptr, 0, none, rows, cols, sel.n, sel.m, words, nullptr, st.get());
    } else if (sel.granularity == Granularity::Row) {
      cuda::launch_select_rows(sd, nullptr, 0, none, rows, cols, row_k(sel, cols), nullptr, words, nullptr,
                               cuda::select_rows_grid(rows, probe().sms), st.get());
    } else {
      std::vector<TopkItem> items{{nullptr, sd, n, static_cast<size_t>(cols), words}};
      select_k_smallest_dev(st, items, prune_count(sel.sparsity, n), probe().sms, nullptr);
    }
  }

  static void count_pruned(Stream& st, const uint32_t* words, int64_t rows, int64_t cols, uint32_t* host) {
    DevBuf<uint32_t> ppr(st, static_cast<size_t>(rows));
    cuda::launch_count_pruned(words, rows, cols, ppr.get(), st.get());
    download(st, host, ppr.get(), static_cast<size_t>(rows) * 4);
    st.sync();
  }

  static void finish_mask(Stream& st, const uint32_t* words, int64_t rows, int64_t cols, MaskOut out) {
    if (out.pruned_per_row) count_pruned(st, words, rows, cols, out.pruned_per_row);
    download_mask(st, out.bits, words, static_cast<size_t>(rows) * static_cast<size_t>(cols));
  }

  std::mutex mu_;
};

}  // namespace

Backend* cuda_backend() {
  if (!probe().ok) return nullptr;
  static CudaBackend b;
  return &b;
}

std::string cuda_status() { return probe().status; }

}  // namespace shears
