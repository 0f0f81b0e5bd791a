// dsnotRefine(w: {dense: Float32Array, current: Float32Array, rows, cols}, keep: Uint8Array,
//             columns: {sum: Float64Array, sumSq: Float64Array, count: number},
//             opts: {maxCycles, threshold, n?, m?}) -> Promise<{swaps, errorBefore, errorAfter}>
// DSnoT's refinement of a pruned matrix (native/cpu/dsnot.h): `current` and `keep` are
// updated in place.
#include <napi.h>

#include <cmath>
#include <memory>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/dsnot.h"

namespace shears {
namespace {

Napi::Object object_arg(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) fail(kShapeError, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Value DsnotRefine(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object wo = object_arg(info[0], "w");
    const int64_t rows = get_int(wo, "rows", 1, INT32_MAX), cols = get_int(wo, "cols", 1, INT32_MAX);
    const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
    DsnotMatrix w;
    w.rows = static_cast<size_t>(rows);
    w.cols = static_cast<size_t>(cols);
    w.dense = typed_array<float>(wo.Get("dense"), "w.dense", n).data;
    w.current = typed_array<float>(wo.Get("current"), "w.current", n).data;
    w.keep = typed_array<uint8_t>(info[1], "keep", (n + 7) / 8).data;
    Napi::Object xo = object_arg(info[2], "columns");
    DsnotColumns x;
    x.sum = typed_array<double>(xo.Get("sum"), "columns.sum", w.cols).data;
    x.sum_sq = typed_array<double>(xo.Get("sumSq"), "columns.sumSq", w.cols).data;
    x.count = get_double(xo, "count", 0.0);
    if (!(x.count >= 1) || !std::isfinite(x.count)) fail(kRangeError, "columns.count must be at least 1 (no calibration tokens)");
    Napi::Object po = object_arg(info[3], "opts");
    DsnotParams p;
    p.max_cycles = static_cast<int>(get_int(po, "maxCycles", 0, 1 << 30));
    p.threshold = get_double(po, "threshold", 0.0);
    if (!(p.threshold >= 0) || !std::isfinite(p.threshold)) fail(kRangeError, "threshold must be a finite number >= 0");
    if (!po.Get("m").IsUndefined()) {
      p.m = static_cast<int>(get_int(po, "m", 2, 32));
      p.n = static_cast<int>(get_int(po, "n", 1, p.m - 1));
    }
    for (size_t j = 0; j < w.cols; ++j)
      if (!std::isfinite(x.sum[j]) || !(x.sum_sq[j] >= 0) || !std::isfinite(x.sum_sq[j]))
        fail(kNonFinite, "the column statistics are not finite at column " + std::to_string(j));
    std::vector<Napi::Value> keep{wo.Get("dense"), wo.Get("current"), info[1], xo.Get("sum"), xo.Get("sumSq")};
    auto result = std::make_shared<DsnotResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.dsnotRefine", keep, [=] { *result = dsnot_refine(w, x, p); },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("swaps", static_cast<double>(result->swaps));
          r.Set("errorBefore", result->error_before);
          r.Set("errorAfter", result->error_after);
          return r;
        });
  });
}

}  // namespace

SHEARS_REGISTER(dsnot) { export_function(env, exports, "dsnotRefine", DsnotRefine, 4); }

}  // namespace shears
