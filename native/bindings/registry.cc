#include "bindings/registry.h"

#include <string>
#include <utility>
#include <vector>

namespace shears {

// Function-local static: safe from the static-initialization-order problem.
static std::vector<std::pair<std::string, RegisterFn>>& registry() {
  static std::vector<std::pair<std::string, RegisterFn>> r;
  return r;
}

Registrar::Registrar(const char* name, RegisterFn fn) { registry().emplace_back(name, fn); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : registry()) fn(env, exports);
}

}  // namespace shears

namespace shears {

void export_function(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn, int arity) {
  Napi::Function f = Napi::Function::New(env, fn, name);
  // `length` of a function is configurable (not writable): redefine it.
  f.DefineProperty(Napi::PropertyDescriptor::Value("length", Napi::Number::New(env, arity), napi_configurable));
  exports.Set(name, f);
}

}  // namespace shears
