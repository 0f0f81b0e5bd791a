// Baselines the kernel benchmark measures in the same binary and the same run:
//   benchCopy(src, dst, {parallel}) -> Promise<void>: plain memcpy of the same bytes
//     (one call, or one per thread-pool chunk when parallel).
//   benchSortSelect(scores, rows, cols, sparsity, bits) -> Promise<void>: the naive
//     selection (full sort of every row), parallel over rows like the real kernel.
#include <napi.h>

#include <cstring>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "core/thread_pool.h"
#include "cpu/bitmask.h"
#include "cpu/select.h"

namespace shears {
namespace {

Napi::Value BenchCopy(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto src = typed_array<uint8_t>(info[0], "src");
    auto dst = typed_array<uint8_t>(info[1], "dst", src.size);
    bool parallel = info.Length() > 2 && info[2].IsObject() && info[2].As<Napi::Object>().Get("parallel").ToBoolean();
    return PromiseWorker::Start(info.Env(), "shears.benchCopy", {info[0], info[1]}, [src, dst, parallel] {
      if (!parallel) {
        std::memcpy(dst.data, src.data, src.size);
        return;
      }
      parallel_for(src.size, balanced_grain(src.size, 1 << 20, 64), [&](size_t, size_t b, size_t e) {
        std::memcpy(dst.data + b, src.data + b, e - b);
      });
    });
  });
}

Napi::Value BenchSortSelect(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("rows", info[1]);
    o.Set("cols", info[2]);
    o.Set("sparsity", info[3]);
    int64_t rows = get_int(o, "rows", 1, INT32_MAX), cols = get_int(o, "cols", 1, INT32_MAX);
    double sparsity = get_double(o, "sparsity", 0.0);
    const float* scores = typed_array<float>(info[0], "scores", static_cast<size_t>(rows * cols)).data;
    uint8_t* bits = typed_array<uint8_t>(info[4], "bits", static_cast<size_t>(rows * cols + 7) / 8).data;
    return PromiseWorker::Start(info.Env(), "shears.benchSortSelect", {info[0], info[4]},
                                [scores, rows, cols, sparsity, bits] {
                                  size_t c = static_cast<size_t>(cols), k = prune_count(sparsity, c);
                                  size_t grain = balanced_grain(static_cast<size_t>(rows), 4, byte_aligned_row_multiple(c));
                                  parallel_for(static_cast<size_t>(rows), grain, [&](size_t, size_t b, size_t e) {
                                    std::vector<uint32_t> idx;
                                    for (size_t r = b; r < e; ++r) select_row_sort(scores + r * c, c, k, idx, bits, r * c);
                                  });
                                });
  });
}

}  // namespace

SHEARS_REGISTER(bench) {
  export_function(env, exports, "benchCopy", BenchCopy, 3);
  export_function(env, exports, "benchSortSelect", BenchSortSelect, 5);
}

}  // namespace shears
