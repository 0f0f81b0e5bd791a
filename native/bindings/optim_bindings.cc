// adamwStep(param, grad, state, opts) -> Promise<void>: one AdamW step on one parameter
// tensor (native/cpu/adamw.h), off the JavaScript thread.
//   param: {data: Float32Array | Uint16Array, dtype: 'f32' | 'f16' | 'bf16'}
//   grad: Float32Array; state: {m, v: Float32Array, master?: Float32Array (f16/bf16)}
//   opts: {step, lr, beta1, beta2, eps, weightDecay, keep?: Uint8Array (packed bits),
//          ewc?: {lambda, fisher: Float32Array, anchor: Float32Array | Uint16Array,
//                 anchorDtype?: 'f32' | 'f16' | 'bf16' (default f32)}}
// ewcPenalty(w, fisher, anchor: {data, dtype}, keep?) -> number: sum F (w - w*)^2 over the
//   trained weights (native/cpu/ewc_penalty.h).
// floatSummary(x: Float32Array) -> {sum, max, finite, nonfinite} (native/cpu/float_summary.h).
// castKeepingZeros(src: {data, dtype}, dst: {data, dtype}, keep?) -> Promise<void>
//   (native/cpu/cast_keeping_zeros.h), off the JavaScript thread.
// keepFromZeros(zero: Uint8Array, n, keep: Uint8Array); prunedNonzero(keep, zero, n) -> number
//   (native/cpu/keep_from_zeros.h, pruned_nonzero.h).
#include <napi.h>

#include <cmath>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/adamw.h"
#include "cpu/cast_keeping_zeros.h"
#include "cpu/ewc_penalty.h"
#include "cpu/float_summary.h"
#include "cpu/keep_from_zeros.h"
#include "cpu/pruned_nonzero.h"

namespace shears {
namespace {

double number_in(const Napi::Object& o, const char* key, double fallback, double lo, double hi, bool lo_open) {
  const double d = get_double(o, key, fallback);
  if (!std::isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
    fail(kRangeError, std::string(key) + " must be a finite number in " + (lo_open ? "(" : "[") + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(d));
  return d;
}

// The data of a typed array holding n elements of `dtype` (Float32Array for f32, Uint16Array for f16/bf16).
const void* typed_data(const Napi::Value& v, DType dtype, const char* what, size_t n) {
  if (dtype == DType::F32) return typed_array<float>(v, what, n).data;
  return typed_array<uint16_t>(v, what, n).data;
}

// {data, dtype}: the data pointer, its dtype and element count.
struct DTypedArray {
  void* data = nullptr;
  DType dtype = DType::F32;
  size_t n = 0;
};

DTypedArray dtyped(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) fail(kShapeError, std::string(what) + " must be {data, dtype}");
  Napi::Object o = v.As<Napi::Object>();
  DTypedArray a;
  a.dtype = parse_dtype(o.Get("dtype"), (std::string(what) + ".dtype").c_str());
  const std::string data_name = std::string(what) + ".data";
  if (a.dtype == DType::F32) {
    auto d = typed_array<float>(o.Get("data"), data_name.c_str());
    a.data = d.data;
    a.n = d.size;
  } else {
    auto d = typed_array<uint16_t>(o.Get("data"), data_name.c_str());
    a.data = d.data;
    a.n = d.size;
  }
  return a;
}

// An optional packed mask of n bits (undefined / null: none).
const uint8_t* optional_bits(const Napi::Value& v, const char* what, size_t n) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return typed_array<uint8_t>(v, what, (n + 7) / 8).data;
}

Napi::Value EwcPenalty(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto w = typed_array<float>(info[0], "w");
    const float* fisher = typed_array<float>(info[1], "fisher", w.size).data;
    DTypedArray anchor = dtyped(info[2], "anchor");
    if (anchor.n != w.size) fail(kShapeError, "anchor has " + std::to_string(anchor.n) + " elements, w has " + std::to_string(w.size));
    const uint8_t* keep = optional_bits(info[3], "keep", w.size);
    return Napi::Number::New(info.Env(), ewc_penalty_sum(w.data, fisher, anchor.data, anchor.dtype, w.size, keep));
  });
}

Napi::Value FloatSummaryOf(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto x = typed_array<float>(info[0], "x");
    const FloatSummary s = float_summary(x.data, x.size);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("sum", s.sum);
    o.Set("max", s.max);
    o.Set("finite", static_cast<double>(s.finite));
    o.Set("nonfinite", static_cast<double>(s.nonfinite));
    return o;
  });
}

Napi::Value CastKeepingZeros(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    DTypedArray src = dtyped(info[0], "src"), dst = dtyped(info[1], "dst");
    if (src.n != dst.n) fail(kShapeError, "dst has " + std::to_string(dst.n) + " elements, src has " + std::to_string(src.n));
    const uint8_t* keep = optional_bits(info[2], "keep", src.n);
    Napi::Object so = info[0].As<Napi::Object>(), d = info[1].As<Napi::Object>();
    std::vector<Napi::Value> hold{so.Get("data"), d.Get("data")};
    if (keep) hold.push_back(info[2]);
    return PromiseWorker::Start(info.Env(), "shears.castKeepingZeros", hold,
                                [src, dst, keep] { cast_keeping_zeros(src.data, src.dtype, dst.data, dst.dtype, src.n, keep); });
  });
}

Napi::Value KeepFromZeros(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object dims = Napi::Object::New(info.Env());
    dims.Set("n", info[1]);
    const size_t n = static_cast<size_t>(get_int(dims, "n", 0, int64_t{1} << 53));
    const uint8_t* zero = typed_array<uint8_t>(info[0], "zero", (n + 7) / 8).data;
    uint8_t* keep = typed_array<uint8_t>(info[2], "keep", (n + 7) / 8).data;
    keep_from_zeros(zero, n, keep);
    return info.Env().Undefined();
  });
}

Napi::Value PrunedNonzero(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object dims = Napi::Object::New(info.Env());
    dims.Set("n", info[2]);
    const size_t n = static_cast<size_t>(get_int(dims, "n", 0, int64_t{1} << 53));
    const uint8_t* keep = typed_array<uint8_t>(info[0], "keep", (n + 7) / 8).data;
    const uint8_t* zero = typed_array<uint8_t>(info[1], "zero", (n + 7) / 8).data;
    return Napi::Number::New(info.Env(), static_cast<double>(pruned_nonzero(keep, zero, n)));
  });
}

Napi::Value AdamWStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    for (size_t k = 0; k < 4; ++k)
      if (k != 1 && !info[k].IsObject()) fail(kShapeError, k == 0 ? "param must be {data, dtype}" : k == 2 ? "state must be {m, v, master?}" : "opts must be an object");
    Napi::Object param = info[0].As<Napi::Object>(), state = info[2].As<Napi::Object>(), o = info[3].As<Napi::Object>();
    AdamWTensor t;
    t.dtype = parse_dtype(param.Get("dtype"), "param.dtype");
    std::vector<Napi::Value> keep{param.Get("data"), info[1], state.Get("m"), state.Get("v")};
    if (t.dtype == DType::F32) {
      auto d = typed_array<float>(param.Get("data"), "param.data");
      t.param = d.data;
      t.n = d.size;
    } else {
      auto d = typed_array<uint16_t>(param.Get("data"), "param.data");
      t.param = d.data;
      t.n = d.size;
      t.master = typed_array<float>(state.Get("master"), "state.master (f16/bf16 parameters need a float32 master copy)", t.n).data;
      keep.push_back(state.Get("master"));
    }
    t.grad = typed_array<float>(info[1], "grad", t.n).data;
    t.m = typed_array<float>(state.Get("m"), "state.m", t.n).data;
    t.v = typed_array<float>(state.Get("v"), "state.v", t.n).data;
    if (!o.Get("keep").IsUndefined() && !o.Get("keep").IsNull()) {
      t.keep = typed_array<uint8_t>(o.Get("keep"), "keep", (t.n + 7) / 8).data;
      keep.push_back(o.Get("keep"));
    }
    AdamWParams p;
    p.step = get_int(o, "step", 1, INT32_MAX);
    p.lr = number_in(o, "lr", 1e-3, 0.0, 1e6, false);
    p.beta1 = number_in(o, "beta1", 0.9, 0.0, 0.999999999, false);
    p.beta2 = number_in(o, "beta2", 0.999, 0.0, 0.999999999, false);
    p.eps = number_in(o, "eps", 1e-8, 0.0, 1.0, true);
    p.weight_decay = number_in(o, "weightDecay", 0.0, 0.0, 1e6, false);
    Napi::Value ewc = o.Get("ewc");
    if (!ewc.IsUndefined() && !ewc.IsNull()) {
      if (!ewc.IsObject()) fail(kShapeError, "ewc must be {lambda, fisher, anchor}");
      Napi::Object e = ewc.As<Napi::Object>();
      p.ewc_lambda = number_in(e, "lambda", 0.0, 0.0, 1e30, false);
      p.fisher = typed_array<float>(e.Get("fisher"), "ewc.fisher", t.n).data;
      p.anchor_dtype = e.Get("anchorDtype").IsUndefined() ? DType::F32 : parse_dtype(e.Get("anchorDtype"), "ewc.anchorDtype");
      p.anchor = typed_data(e.Get("anchor"), p.anchor_dtype, "ewc.anchor", t.n);
      keep.push_back(e.Get("fisher"));
      keep.push_back(e.Get("anchor"));
    }
    return PromiseWorker::Start(info.Env(), "shears.adamwStep", keep, [t, p] { adamw_step(t, p); });
  });
}

}  // namespace

SHEARS_REGISTER(optim) {
  export_function(env, exports, "adamwStep", AdamWStep, 4);
  export_function(env, exports, "ewcPenalty", EwcPenalty, 4);
  export_function(env, exports, "floatSummary", FloatSummaryOf, 1);
  export_function(env, exports, "castKeepingZeros", CastKeepingZeros, 3);
  export_function(env, exports, "keepFromZeros", KeepFromZeros, 3);
  export_function(env, exports, "prunedNonzero", PrunedNonzero, 3);
}

}  // namespace shears
