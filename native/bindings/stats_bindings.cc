// columnStats(x, rows, cols, {sum, sumSq, exceed?, threshold?, backend}) -> Promise<void>
// Adds the rows of x (Float32Array, rows x cols) to the Float64Array accumulators.
#include <napi.h>

#include <cmath>

#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/moments.h"
#include "cpu/row_cosine.h"
#include "cpu/zero_mask.h"

namespace shears {
namespace {

Napi::Value ColumnStats(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object dims = Napi::Object::New(info.Env());
    dims.Set("rows", info[1]);
    dims.Set("cols", info[2]);
    int64_t rows = get_int(dims, "rows", 0, INT32_MAX), cols = get_int(dims, "cols", 1, INT32_MAX);
    const float* x = typed_array<float>(info[0], "x", static_cast<size_t>(rows * cols)).data;
    if (!info[3].IsObject()) fail(kShapeError, "accumulators must be an object");
    Napi::Object a = info[3].As<Napi::Object>();
    std::vector<Napi::Value> keep{info[0], a.Get("sum"), a.Get("sumSq")};
    ColumnStatsAcc acc;
    acc.sum = typed_array<double>(a.Get("sum"), "sum", static_cast<size_t>(cols)).data;
    acc.sum_sq = typed_array<double>(a.Get("sumSq"), "sumSq", static_cast<size_t>(cols)).data;
    acc.exceed = nullptr;
    acc.threshold = get_double(a, "threshold", 0.0);
    if (!a.Get("exceed").IsUndefined() && !a.Get("exceed").IsNull()) {
      acc.exceed = typed_array<double>(a.Get("exceed"), "exceed", static_cast<size_t>(cols)).data;
      keep.push_back(a.Get("exceed"));
    }
    Backend& be = backend_arg(a);
    return PromiseWorker::Start(info.Env(), "shears.columnStats", keep,
                                [&be, x, rows, cols, acc]() mutable { be.column_stats(x, rows, cols, acc); });
  });
}

// columnNorms(sumSq: Float64Array, out: Float32Array): out[j] = sqrt(sumSq[j]) (Wanda's
// ||X_j||_2). Synchronous: one pass over a vector of input width.
Napi::Value ColumnNorms(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto q = typed_array<double>(info[0], "sumSq");
    auto out = typed_array<float>(info[1], "out", q.size);
    for (size_t j = 0; j < q.size; ++j) {
      if (!(q.data[j] >= 0.0) || !std::isfinite(q.data[j]))
        fail(kNonFinite, "sumSq is negative or not finite at column " + std::to_string(j));
      out.data[j] = static_cast<float>(std::sqrt(q.data[j]));
    }
    return info.Env().Undefined();
  });
}

// countPositive(x: Float64Array): how many entries are > 0 (columns with outliers).
Napi::Value CountPositive(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto x = typed_array<double>(info[0], "x");
    size_t c = 0;
    for (size_t j = 0; j < x.size; ++j) c += x.data[j] > 0.0;
    return Napi::Number::New(info.Env(), static_cast<double>(c));
  });
}

// rowCosineSum(a: Float32Array, b: Float32Array, cols): sum over rows of cos(a[r], b[r]).
Napi::Value RowCosineSum(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto a = typed_array<float>(info[0], "a");
    const double c = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0.0;
    if (!(c >= 1.0 && c <= 2147483647.0) || c != std::floor(c)) fail(kRangeError, "cols must be a positive integer");
    const size_t cols = static_cast<size_t>(c);
    if (cols == 0 || a.size % cols != 0) fail(kShapeError, "a has " + std::to_string(a.size) + " elements, not rows x " + std::to_string(cols));
    auto b = typed_array<float>(info[1], "b", a.size);
    return Napi::Number::New(info.Env(), row_cosine_sum(a.data, b.data, a.size / cols, cols));
  });
}

// accumulateMoments(g: Float32Array, sum?: Float32Array, sumSq?: Float32Array) -> Promise<void>:
// sum += g, sumSq += g^2 (gradient methods' per-weight moments), off the JavaScript thread.
Napi::Value AccumulateMoments(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto g = typed_array<float>(info[0], "gradient");
    std::vector<Napi::Value> keep{info[0]};
    float* acc[2] = {nullptr, nullptr};
    const char* names[2] = {"sum", "sumSq"};
    for (int k = 0; k < 2; ++k) {
      if (info[1 + k].IsUndefined() || info[1 + k].IsNull()) continue;
      acc[k] = typed_array<float>(info[1 + k], names[k], g.size).data;
      keep.push_back(info[1 + k]);
    }
    const float* gd = g.data;
    const size_t n = g.size;
    float *sum = acc[0], *sum_sq = acc[1];
    return PromiseWorker::Start(info.Env(), "shears.accumulateMoments", keep,
                                [gd, n, sum, sum_sq] { accumulate_moments(gd, n, sum, sum_sq); });
  });
}

// zeroMask(data: Float32Array | Uint16Array, dtype: 'f32'|'f16'|'bf16', bits: Uint8Array) -> number:
// bit i set where element i is +0 or -0 (the mask fine-tuning holds); returns the count.
// Synchronous: one pass over the matrix on the thread pool.
Napi::Value ZeroMask(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    DType dt = parse_dtype(info[1], "dtype");
    size_t n = 0;
    const void* data = nullptr;
    if (dt == DType::F32) {
      auto d = typed_array<float>(info[0], "data");
      n = d.size;
      data = d.data;
    } else {
      auto d = typed_array<uint16_t>(info[0], "data");
      n = d.size;
      data = d.data;
    }
    auto bits = typed_array<uint8_t>(info[2], "bits", (n + 7) / 8);
    return Napi::Number::New(info.Env(), static_cast<double>(zero_mask(data, dt, n, bits.data)));
  });
}

}  // namespace

SHEARS_REGISTER(stats) {
  export_function(env, exports, "zeroMask", ZeroMask, 3);
  export_function(env, exports, "accumulateMoments", AccumulateMoments, 3);
  export_function(env, exports, "countPositive", CountPositive, 1);
  export_function(env, exports, "columnStats", ColumnStats, 4);
  export_function(env, exports, "columnNorms", ColumnNorms, 2);
  export_function(env, exports, "rowCosineSum", RowCosineSum, 3);
}

}  // namespace shears
