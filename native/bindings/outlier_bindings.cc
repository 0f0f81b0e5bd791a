// outlierCount(w: {data, dtype, rows, cols}, act: Float32Array (cols), threshold: number)
//   -> Promise<{sum, above}>: the sum of |W_ij| * act_j over the matrix and how many exceed
// the threshold (native/cpu/outlier_count.h: OWL's outlier ratio), off the JavaScript thread.
#include <napi.h>

#include <cmath>
#include <memory>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/outlier_count.h"

namespace shears {
namespace {

Napi::Value OutlierCountOf(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    MatrixView w = matrix_arg(info[0], "W");
    const float* act = typed_array<float>(info[1], "act", static_cast<size_t>(w.cols)).data;
    if (!info[2].IsNumber()) fail(kRangeError, "threshold must be a number");
    const double threshold = info[2].As<Napi::Number>().DoubleValue();
    if (std::isnan(threshold)) fail(kRangeError, "threshold must not be NaN");
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data"), info[1]};
    auto result = std::make_shared<OutlierCount>();
    return PromiseWorker::Start(
        info.Env(), "shears.outlierCount", keep, [=] { *result = outlier_count(w, act, threshold); },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("sum", result->score_sum);
          out.Set("above", static_cast<double>(result->above));
          return out;
        });
  });
}

}  // namespace

SHEARS_REGISTER(outliers) { export_function(env, exports, "outlierCount", OutlierCountOf, 3); }

}  // namespace shears
