// convert(src, srcDtype, dst, dstDtype) -> Promise<void>: f32 <-> f16 / bf16 (and
// f16 <-> bf16 through f32), round to nearest even, over the thread pool.
#include <napi.h>

#include <vector>

#include "core/dtype.h"
#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "core/thread_pool.h"

namespace shears {
namespace {

void* dtype_array(const Napi::Value& v, DType t, const char* what, size_t& n) {
  if (t == DType::F32) {
    auto s = typed_array<float>(v, what);
    n = s.size;
    return s.data;
  }
  auto s = typed_array<uint16_t>(v, what);
  n = s.size;
  return s.data;
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    DType st = parse_dtype(info[1], "source dtype"), dt = parse_dtype(info[3], "target dtype");
    size_t ns = 0, nd = 0;
    void* src = dtype_array(info[0], st, "source", ns);
    void* dst = dtype_array(info[2], dt, "target", nd);
    if (ns != nd) fail(kShapeError, "source has " + std::to_string(ns) + " elements, target " + std::to_string(nd));
    return PromiseWorker::Start(info.Env(), "shears.convert", {info[0], info[2]}, [src, st, dst, dt, ns] {
      parallel_for(ns, 1 << 16, [&](size_t, size_t b, size_t e) {
        float buf[1024];
        for (size_t i = b; i < e; i += 1024) {
          size_t n = std::min<size_t>(1024, e - i);
          to_f32(src, st, i, n, buf);
          from_f32(buf, n, dst, dt, i);
        }
      });
    });
  });
}

}  // namespace

SHEARS_REGISTER(convert) { export_function(env, exports, "convert", Convert, 4); }

}  // namespace shears
