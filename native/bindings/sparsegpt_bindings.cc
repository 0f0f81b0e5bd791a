// SparseGPT bindings. Typed arrays are used in place by a libuv worker; the work
// goes through the backend the `backend` option names (core/backend.h).
//   hessianAdd(x, rows, cols, sum, {backend}?)  sum: Float64Array | Float32Array (cols*cols) += x^T x
//   sparsegptPrune(W, sum, count, opts, mask)   opts: {sparsity, n?, m?, blockSize, percdamp, selection, keepBits?, backend?}
//     keepBits: a packed keep-mask (Uint8Array, ceil(rows*cols/8) bytes) that decides
//     what is pruned (repair with a given mask; may be mask.bits itself).
//     resolves with the number of pruned weights.
#include <napi.h>

#include <string>
#include <vector>

#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"

namespace shears {
namespace {

// The accumulator: a Float64Array or Float32Array of cols*cols elements.
HessianSum sum_arg(const Napi::Value& v, int64_t cols) {
  const size_t len = static_cast<size_t>(cols) * static_cast<size_t>(cols);
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)
    return {typed_array<float>(v, "hessian sum", len).data, false};
  return {typed_array<double>(v, "hessian sum", len).data, true};
}

Napi::Value HessianAdd(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object dims = Napi::Object::New(info.Env());
    dims.Set("rows", info[1]);
    dims.Set("cols", info[2]);
    const int64_t rows = get_int(dims, "rows", 0, INT32_MAX), cols = get_int(dims, "cols", 1, INT32_MAX);
    const float* x = typed_array<float>(info[0], "x", static_cast<size_t>(rows) * static_cast<size_t>(cols)).data;
    HessianSum s = sum_arg(info[3], cols);
    Backend& be = backend_arg(options_arg(info, 4));
    return PromiseWorker::Start(info.Env(), "shears.hessianAdd", {info[0], info[3]},
                                [&be, x, rows, cols, s] { be.hessian_add(x, rows, cols, s); });
  });
}

Napi::Value SparsegptPrune(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsObject() || !info[3].IsObject() || !info[4].IsObject())
      fail(kShapeError, "sparsegptPrune(W, sum, count, opts, mask) needs objects for W, opts and mask");
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data"), info[1]};
    MatrixView w = matrix_arg(info[0], "W");
    HessianSum s = sum_arg(info[1], w.cols);
    if (!info[2].IsNumber()) fail(kRangeError, "count must be a number");
    const double count = info[2].As<Napi::Number>().DoubleValue();
    Napi::Object o = info[3].As<Napi::Object>();
    SparseGptParams p;
    p.sparsity = get_double(o, "sparsity", 0.0);
    if (!o.Get("m").IsUndefined() && !o.Get("m").IsNull()) {
      p.n = static_cast<int>(get_int(o, "n", 1, 32));
      p.m = static_cast<int>(get_int(o, "m", 2, 32));
    }
    p.block_size = static_cast<size_t>(get_int(o, "blockSize", 1, INT32_MAX));
    p.percdamp = get_double(o, "percdamp", 0.01);
    Napi::Value sel = o.Get("selection");
    const std::string ss = sel.IsString() ? std::string(sel.As<Napi::String>()) : std::string("block");
    if (ss != "block" && ss != "row") fail(kRangeError, "selection must be 'block' or 'row', got '" + ss + "'");
    p.row_selection = ss == "row";
    Napi::Value given = o.Get("keepBits");
    if (!given.IsUndefined() && !given.IsNull()) {
      p.keep_bits = typed_array<uint8_t>(given, "keepBits", mask_bytes(w.rows, w.cols)).data;
      keep.push_back(given);
    }
    MaskOut out = mask_arg(info[4].As<Napi::Object>(), w.rows, w.cols, keep);
    Backend& be = backend_arg(o);
    uint32_t* ppr = out.pruned_per_row;
    const int64_t rows = w.rows;
    return PromiseWorker::Start(
        info.Env(), "shears.sparsegptPrune", keep, [&be, w, s, count, p, out] { be.sparsegpt(w, s, count, p, out); },
        [ppr, rows](Napi::Env env) -> Napi::Value {
          double t = 0;
          if (ppr)
            for (int64_t r = 0; r < rows; ++r) t += ppr[r];
          return Napi::Number::New(env, t);
        });
  });
}

}  // namespace

SHEARS_REGISTER(sparsegpt) {
  export_function(env, exports, "hessianAdd", HessianAdd, 5);
  export_function(env, exports, "sparsegptPrune", SparsegptPrune, 5);
}

}  // namespace shears
