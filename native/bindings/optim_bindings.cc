// adamwStep(param, grad, state, opts) -> Promise<void>: one AdamW step on one parameter
// tensor (native/cpu/adamw.h), off the JavaScript thread.
//   param: {data: Float32Array | Uint16Array, dtype: 'f32' | 'f16' | 'bf16'}
//   grad: Float32Array; state: {m, v: Float32Array, master?: Float32Array (f16/bf16)}
//   opts: {step, lr, beta1, beta2, eps, weightDecay, keep?: Uint8Array (packed bits),
//          ewc?: {lambda, fisher: Float32Array, anchor: Float32Array}}
#include <napi.h>

#include <cmath>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/adamw.h"

namespace shears {
namespace {

double number_in(const Napi::Object& o, const char* key, double fallback, double lo, double hi, bool lo_open) {
  const double d = get_double(o, key, fallback);
  if (!std::isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
    fail(kRangeError, std::string(key) + " must be a finite number in " + (lo_open ? "(" : "[") + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(d));
  return d;
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
      p.anchor = typed_array<float>(e.Get("anchor"), "ewc.anchor", t.n).data;
      keep.push_back(e.Get("fisher"));
      keep.push_back(e.Get("anchor"));
    }
    return PromiseWorker::Start(info.Env(), "shears.adamwStep", keep, [t, p] { adamw_step(t, p); });
  });
}

}  // namespace

SHEARS_REGISTER(optim) { export_function(env, exports, "adamwStep", AdamWStep, 4); }

}  // namespace shears
