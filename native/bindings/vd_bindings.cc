// Sparse variational dropout (docs/variational-dropout.md): the variational linear layer's
// forward and backward, the KL term, one layer's reconstruction training, and the log alpha
// histogram. Every array argument is a Float32Array in row-major layout; the heavy calls
// run off the JavaScript thread and resolve when done.
//   vdLinearForward({x, n, in, out, theta, logSigma2, eps?, y, std?}) -> Promise<void>
//   vdLinearBackward({x, n, in, out, theta, logSigma2, eps?, std?, dy, dx?, dTheta?, dLogSigma2?}) -> Promise<void>
//   vdKl({theta, logSigma2, scale?, dTheta?, dLogSigma2?, logAlpha?}) -> Promise<number>
//   vdNegKl(logAlpha) -> number
//   vdTrainLayer({x, n, in, out, w, theta, logSigma2, logAlpha, steps, batchRows, lrTheta, lrLogSigma2,
//                 beta, klTokens, warmup, logSigma2Init, seed, score?}) -> Promise<{mseFirst, mseLast, mseMean, kl}>
//     (score: -log alpha unclipped, the pruning score)
//   vdHistogram(values, lo, hi, bins) -> Float64Array
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "bindings/vd_schedule_arg.h"
#include "cpu/vd_linear.h"
#include "cpu/vd_train.h"

namespace shears {
namespace {

constexpr int64_t kMaxDim = INT32_MAX;

struct Dims {
  int64_t n, in, out;
};

Dims dims_arg(const Napi::Object& o) {
  Dims d{get_int(o, "n", 1, kMaxDim), get_int(o, "in", 1, kMaxDim), get_int(o, "out", 1, kMaxDim)};
  return d;
}

Napi::Object object_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) fail(kShapeError, "the argument must be an options object");
  return info[0].As<Napi::Object>();
}

// A Float32Array field of `size` elements (required), kept alive for the call.
float* field(const Napi::Object& o, const char* key, size_t size, std::vector<Napi::Value>& keep) {
  keep.push_back(o.Get(key));
  return typed_array<float>(o.Get(key), key, size).data;
}

// The same, or null when the field is absent or null.
float* optional_field(const Napi::Object& o, const char* key, size_t size, std::vector<Napi::Value>& keep) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return field(o, key, size, keep);
}

size_t sz(int64_t a, int64_t b) { return static_cast<size_t>(a) * static_cast<size_t>(b); }

// What the forward and the backward both read: x, theta, log sigma^2, and eps with std.
struct LayerArgs {
  Dims d;
  const float *x, *theta, *ls, *eps;
  float* sd;
};

LayerArgs layer_args(const Napi::Object& o, std::vector<Napi::Value>& keep, const char* std_role) {
  LayerArgs a;
  a.d = dims_arg(o);
  a.x = field(o, "x", sz(a.d.n, a.d.in), keep);
  a.theta = field(o, "theta", sz(a.d.out, a.d.in), keep);
  a.ls = field(o, "logSigma2", sz(a.d.out, a.d.in), keep);
  a.eps = optional_field(o, "eps", sz(a.d.n, a.d.out), keep);
  a.sd = optional_field(o, "std", sz(a.d.n, a.d.out), keep);
  if (a.eps && !a.sd) fail(kShapeError, std::string("std is needed with eps (") + std_role + ")");
  return a;
}

Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = object_arg(info);
    std::vector<Napi::Value> keep;
    const LayerArgs a = layer_args(o, keep, "the backward reads it");
    float* y = field(o, "y", sz(a.d.n, a.d.out), keep);
    return PromiseWorker::Start(info.Env(), "shears.vdLinearForward", keep,
                                [=] { vd_linear_forward(a.x, a.d.n, a.d.in, a.d.out, a.theta, a.ls, a.eps, y, a.sd); });
  });
}

Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = object_arg(info);
    std::vector<Napi::Value> keep;
    const LayerArgs a = layer_args(o, keep, "the forward's output");
    const Dims d = a.d;
    const float* dy = field(o, "dy", sz(d.n, d.out), keep);
    float* dx = optional_field(o, "dx", sz(d.n, d.in), keep);
    float* dt = optional_field(o, "dTheta", sz(d.out, d.in), keep);
    float* dl = optional_field(o, "dLogSigma2", sz(d.out, d.in), keep);
    return PromiseWorker::Start(info.Env(), "shears.vdLinearBackward", keep,
                                [=] { vd_linear_backward(a.x, d.n, d.in, d.out, a.theta, a.ls, a.eps, a.sd, dy, dx, dt, dl); });
  });
}

Napi::Value Kl(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = object_arg(info);
    std::vector<Napi::Value> keep;
    auto t = typed_array<float>(o.Get("theta"), "theta");
    keep.push_back(o.Get("theta"));
    const float* ls = field(o, "logSigma2", t.size, keep);
    const double scale = get_double(o, "scale", 1.0);
    float* dt = optional_field(o, "dTheta", t.size, keep);
    float* dl = optional_field(o, "dLogSigma2", t.size, keep);
    float* la = optional_field(o, "logAlpha", t.size, keep);
    auto result = std::make_shared<double>(0.0);
    const float* theta = t.data;
    const size_t size = t.size;
    return PromiseWorker::Start(
        info.Env(), "shears.vdKl", keep,
        [=] {
          *result = vd_kl(theta, ls, size, scale, dt, dl);
          if (la) vd_log_alpha(theta, ls, size, la);
        },
        [result](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *result); });
  });
}

Napi::Value NegKl(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) fail(kRangeError, "logAlpha must be a number");
    return Napi::Number::New(info.Env(), vd_neg_kl(info[0].As<Napi::Number>().DoubleValue()));
  });
}

Napi::Value TrainLayer(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = object_arg(info);
    const Dims d = dims_arg(o);
    std::vector<Napi::Value> keep;
    const float* x = field(o, "x", sz(d.n, d.in), keep);
    const float* w = field(o, "w", sz(d.out, d.in), keep);
    float* theta = field(o, "theta", sz(d.out, d.in), keep);
    float* ls = field(o, "logSigma2", sz(d.out, d.in), keep);
    float* la = field(o, "logAlpha", sz(d.out, d.in), keep);
    float* score = optional_field(o, "score", sz(d.out, d.in), keep);
    VdTrainSettings s;
    static_cast<VdSchedule&>(s) = vd_schedule_arg(o, static_cast<double>(d.n));
    s.batch_rows = get_int(o, "batchRows", 1, kMaxDim);
    auto result = std::make_shared<VdTrainResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.vdTrainLayer", keep, [=] {
          *result = vd_train_layer(x, d.n, d.in, w, d.out, s, theta, ls, la);
          if (score) vd_keep_score(theta, ls, sz(d.out, d.in), score);
        },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("mseFirst", result->mse_first);
          r.Set("mseLast", result->mse_last);
          r.Set("mseMean", result->mse_mean);
          r.Set("kl", result->kl);
          return r;
        });
  });
}

Napi::Value Histogram(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto v = typed_array<float>(info[0], "values");
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("lo", info[1]);
    o.Set("hi", info[2]);
    o.Set("bins", info[3]);
    const double lo = get_double(o, "lo", 0.0), hi = get_double(o, "hi", 0.0);
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) fail(kRangeError, "histogram bounds must be finite with hi > lo");
    const int64_t bins = get_int(o, "bins", 1, 1 << 16);
    Napi::Float64Array counts = Napi::Float64Array::New(info.Env(), static_cast<size_t>(bins));
    for (int64_t b = 0; b < bins; ++b) counts[static_cast<size_t>(b)] = 0.0;
    vd_histogram(v.data, v.size, lo, hi, bins, counts.Data());
    return counts;
  });
}

}  // namespace

SHEARS_REGISTER(vd) {
  export_function(env, exports, "vdLinearForward", LinearForward, 1);
  export_function(env, exports, "vdLinearBackward", LinearBackward, 1);
  export_function(env, exports, "vdKl", Kl, 1);
  export_function(env, exports, "vdNegKl", NegKl, 1);
  export_function(env, exports, "vdTrainLayer", TrainLayer, 1);
  export_function(env, exports, "vdHistogram", Histogram, 4);
}

}  // namespace shears
