// Runs one native operation on the libuv thread pool and settles a Promise.
// The JavaScript values the work reads or writes (typed arrays) are kept alive by
// references for the whole run, so their memory is used in place, never copied;
// those over a file mapping also pin it (bindings/mappings.h), so that unmapFile
// during the run defers the munmap until the worker is done.
// Work reports failures by throwing shears::Error; its code becomes error.code.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "bindings/mappings.h"
#include "core/error.h"

namespace shears {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  // `keep`: values to hold until the promise settles. `done` builds the resolved
  // value on the JS thread (may be empty: resolves undefined).
  static Napi::Promise Start(Napi::Env env, const char* name, std::vector<Napi::Value> keep, Work work,
                             Done done = nullptr) {
    auto* w = new PromiseWorker(env, name, std::move(keep), std::move(work), std::move(done));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const Error& e) {
      code_ = e.code;
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "E_NOMEM";
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = kInternal;
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (done_) {
      try {
        deferred_.Resolve(done_(env));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }

  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    err.Set("code", Napi::String::New(Env(), code_.empty() ? kInternal : code_));
    deferred_.Reject(err);
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, std::vector<Napi::Value> keep, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {
    for (auto& v : keep) {
      refs_.push_back(Napi::Persistent(v));
      if (mappings::Mapping* m = mappings::pin(buffer_data(v))) pins_.push_back(m);
    }
  }

  // Destroyed on the JavaScript thread once the promise has settled.
  ~PromiseWorker() override {
    for (mappings::Mapping* m : pins_) mappings::unpin(m);
  }

  // Start of the ArrayBuffer under a typed array or buffer (null for other values).
  static void* buffer_data(const Napi::Value& v) {
    if (v.IsTypedArray()) return v.As<Napi::TypedArray>().ArrayBuffer().Data();
    if (v.IsArrayBuffer()) return v.As<Napi::ArrayBuffer>().Data();
    return nullptr;
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<mappings::Mapping*> pins_;
  std::string code_;
};

// Runs `body` (argument parsing on the JS thread) and turns a shears::Error into
// a thrown JS error carrying .code. Used by every binding entry point.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  try {
    return body();
  } catch (const Error& e) {
    Napi::Error err = Napi::Error::New(info.Env(), e.what());
    err.Value().Set("code", Napi::String::New(info.Env(), e.code));
    throw err;
  }
}

}  // namespace shears
