// Module entry point. Ops register themselves (core/registry.h).
#include <napi.h>

#include "bindings/registry.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  shears::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(shears, Init)
