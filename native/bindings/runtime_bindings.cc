// Runtime facts and settings: threads, backends, build flavour.
#include <napi.h>

#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/registry.h"
#include "core/thread_pool.h"

namespace shears {

namespace {

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_threads()); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  set_pool_threads(n);
  return Napi::Number::New(info.Env(), pool_threads());
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#ifdef SHEARS_WITH_CUDA
  o.Set("cudaCompiled", true);
#else
  o.Set("cudaCompiled", false);
#endif
  o.Set("cudaAvailable", cuda_backend() != nullptr);
  o.Set("cudaStatus", cuda_status());
  return o;
}

// setSimd(on): switch the hand-vectorized CPU loops on or off (tests compare both);
// returns whether they are in use (on and supported by this CPU).
Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  if (info.Length() > 0) set_simd_enabled(info[0].ToBoolean());
  return Napi::Boolean::New(info.Env(), has_avx512bw());
}

}  // namespace

SHEARS_REGISTER(runtime) {
  exports.Set("setSimd", Napi::Function::New(env, SetSimd, "setSimd"));
  exports.Set("threads", Napi::Function::New(env, Threads, "threads"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
}

}  // namespace shears
