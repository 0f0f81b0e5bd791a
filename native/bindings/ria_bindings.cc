// RIA's ops (native/cpu/ria_score.h, ria_permute.h), CPU only, off the JavaScript thread:
//   riaScore(W, act: Float32Array, a: number, out: Float32Array) -> Promise<void>
//   riaPermutation(scores: Float32Array, {rows, cols, n, m, lsaGroups}, perm: Int32Array)
//     -> Promise<{identity, heuristic, retained, fromHeuristic, lsaRoundsAccepted}>
#include <napi.h>

#include <cmath>
#include <memory>
#include <cstring>
#include <string>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "core/thread_pool.h"
#include "cpu/ria_permute.h"
#include "cpu/ria_score.h"

namespace shears {
namespace {

Napi::Value RiaScore(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsObject()) fail(kShapeError, "W must be a matrix object {data, dtype, rows, cols}");
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data"), info[1], info[3]};
    const MatrixView w = matrix_arg(info[0], "W");
    const float* act = typed_array<float>(info[1], "act", static_cast<size_t>(w.cols)).data;
    if (!info[2].IsNumber()) fail(kRangeError, "a must be a number");
    const double a = info[2].As<Napi::Number>().DoubleValue();
    float* out = typed_array<float>(info[3], "scores", w.numel()).data;
    return PromiseWorker::Start(info.Env(), "shears.riaScore", keep, [w, act, a, out] { ria_score(w, act, a, out); });
  });
}

// Scores must be finite and >= 0 (the first bad one, in row-major order, is named).
void check_scores(const float* s, size_t rows, size_t cols) {
  const size_t n = rows * cols;
  const size_t bad = parallel_sum<size_t>(n, 1 << 16, [&](size_t b, size_t e) {
    size_t count = 0;
    for (size_t i = b; i < e; ++i) count += !(std::isfinite(s[i]) && s[i] >= 0.0f);
    return count;
  });
  if (bad == 0) return;
  size_t i = 0;
  while (std::isfinite(s[i]) && s[i] >= 0.0f) ++i;
  fail(std::isfinite(s[i]) ? kRangeError : kNonFinite, "scores must be finite and >= 0: row " + std::to_string(i / cols) +
                                                          ", column " + std::to_string(i % cols) + " is " + std::to_string(s[i]));
}

Napi::Value RiaPermutationOp(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[1].IsObject()) fail(kShapeError, "dims must be an object {rows, cols, n, m, lsaGroups}");
    const Napi::Object d = info[1].As<Napi::Object>();
    const size_t rows = static_cast<size_t>(get_int(d, "rows", 1, INT32_MAX)), cols = static_cast<size_t>(get_int(d, "cols", 1, INT32_MAX));
    const int m = static_cast<int>(get_int(d, "m", 2, 32));
    const int n = static_cast<int>(get_int(d, "n", 1, m - 1));
    const size_t lsa = static_cast<size_t>(get_int(d, "lsaGroups", 0, 1 << 16));
    const float* scores = typed_array<float>(info[0], "scores", rows * cols).data;
    int32_t* perm = typed_array<int32_t>(info[2], "perm", cols).data;
    auto result = std::make_shared<RiaPermutation>();
    return PromiseWorker::Start(
        info.Env(), "shears.riaPermutation", {info[0], info[2]},
        [scores, rows, cols, n, m, lsa, perm, result] {
          check_scores(scores, rows, cols);
          *result = ria_channel_permutation(scores, rows, cols, n, m, lsa, perm);
        },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("identity", result->identity);
          o.Set("heuristic", result->heuristic);
          o.Set("retained", result->retained);
          o.Set("fromHeuristic", result->from_heuristic);
          o.Set("lsaRoundsAccepted", result->lsa_rounds_accepted);
          return o;
        });
  });
}

}  // namespace

SHEARS_REGISTER(ria) {
  export_function(env, exports, "riaScore", RiaScore, 4);
  export_function(env, exports, "riaPermutation", RiaPermutationOp, 3);
}

}  // namespace shears
