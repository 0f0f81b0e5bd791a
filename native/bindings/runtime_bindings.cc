// Runtime facts and settings: threads, backends, CPU features, build flavour.
//   threads() -> number; setThreads(n) -> number (0: machine default; safe while ops run)
//   backends() -> {cudaCompiled, cudaAvailable, cudaStatus}
//   cpuFeatures() -> {active, best, supported}
//   setCpuFeatures('auto'|'portable'|'avx2'|'avx512') -> the same object
#include <napi.h>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace shears {

namespace {

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_threads()); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("threads", info.Length() > 0 ? info[0] : info.Env().Undefined());
    set_pool_threads(static_cast<int>(get_int(o, "threads", 0, kMaxPoolThreads)));
    return Napi::Number::New(info.Env(), pool_threads());
  });
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

Napi::Value FeaturesInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("active", cpu_level_name(cpu_level()));
  o.Set("best", cpu_level_name(cpu_best_level()));
  Napi::Array sup = Napi::Array::New(env);
  uint32_t i = 0;
  for (CpuLevel l : {CpuLevel::Portable, CpuLevel::Avx2, CpuLevel::Avx512})
    if (l <= cpu_best_level()) sup.Set(i++, cpu_level_name(l));
  o.Set("supported", sup);
  return o;
}

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) { return FeaturesInfo(info.Env()); }

Napi::Value SetCpuFeatures(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) fail(kRangeError, "CPU features must be auto, portable, avx2 or avx512");
    CpuLevel level;
    if (parse_cpu_level(info[0].As<Napi::String>(), &level))
      set_cpu_level(level);
    else
      set_cpu_level_auto();
    return FeaturesInfo(info.Env());
  });
}

}  // namespace

SHEARS_REGISTER(runtime) {
  export_function(env, exports, "threads", Threads, 0);
  export_function(env, exports, "setThreads", SetThreads, 1);
  export_function(env, exports, "backends", Backends, 0);
  export_function(env, exports, "cpuFeatures", CpuFeatures, 0);
  export_function(env, exports, "setCpuFeatures", SetCpuFeatures, 1);
}

}  // namespace shears
