// Self-registration of bindings: each file in native/bindings/ declares
//   SHEARS_REGISTER(name) { export_function(env, exports, "fn", Fn, arity); }
// and addon.cc calls every registered function once at module load. No central
// list to edit when an op is added.
#pragma once
#include <napi.h>

namespace shears {

using RegisterFn = void (*)(Napi::Env, Napi::Object);

struct Registrar {
  Registrar(const char* name, RegisterFn fn);
};

void register_all(Napi::Env env, Napi::Object exports);

// Exports fn as `name` with its JavaScript `length` set to `arity` (the parameters
// the typed view in lib/native/addon.ts declares, optional ones included), so that
// test/native/exports.test.ts can check both sides agree.
void export_function(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn, int arity);

}  // namespace shears

#define SHEARS_REGISTER(name)                                                         \
  static void shears_register_##name(Napi::Env env, Napi::Object exports);           \
  static ::shears::Registrar shears_registrar_##name(#name, &shears_register_##name); \
  static void shears_register_##name([[maybe_unused]] Napi::Env env, [[maybe_unused]] Napi::Object exports)
