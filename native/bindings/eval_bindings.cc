// sampleTokens(logits, rows, vocab, {temperature, topK}, u, out) -> Promise<void>
// Draws one token per row of logits [rows, vocab] (native/cpu/sample_token.h): greedy
// when temperature is 0 or topK is 1, else from softmax(z / temperature) over the topK
// largest (0: all) with the given uniform numbers u (Float64Array, one per row).
#include <napi.h>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/sample_token.h"

namespace shears {
namespace {

Napi::Value SampleTokens(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object dims = Napi::Object::New(info.Env());
    dims.Set("rows", info[1]);
    dims.Set("vocab", info[2]);
    const int64_t rows = get_int(dims, "rows", 0, INT32_MAX), vocab = get_int(dims, "vocab", 1, INT32_MAX);
    const size_t n = static_cast<size_t>(rows);
    const float* logits = typed_array<float>(info[0], "logits", n * static_cast<size_t>(vocab)).data;
    if (!info[3].IsObject()) fail(kShapeError, "options must be {temperature, topK}");
    Napi::Object o = info[3].As<Napi::Object>();
    SampleOptions so;
    so.temperature = get_double(o, "temperature", 0.0);
    so.top_k = get_int(o, "topK", 0, INT32_MAX);
    const double* u = typed_array<double>(info[4], "u", n).data;
    int32_t* out = typed_array<int32_t>(info[5], "out", n).data;
    return PromiseWorker::Start(info.Env(), "shears.sampleTokens", {info[0], info[4], info[5]},
                                [logits, rows, vocab, so, u, out] { sample_tokens(logits, rows, vocab, so, u, out); });
  });
}

}  // namespace

SHEARS_REGISTER(eval) { export_function(env, exports, "sampleTokens", SampleTokens, 6); }

}  // namespace shears
