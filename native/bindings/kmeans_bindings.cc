// kmeansCluster(w: {data, dtype, rows, cols}, keep: Uint8Array, opts: {bits, maxIterations, indexBits})
//   -> Promise<{kept, iterations, converged, sseInitial, sseFinal, sseWritten,
//               centroids: Float64Array, written: Float32Array, counts: Float64Array,
//               relativeEntries}>
// Clusters the kept weights of w (keep bit set) into 2^bits shared values and writes them
// into w in place (native/cpu/kmeans1d.h), off the JavaScript thread.
#include <napi.h>

#include <memory>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/kmeans1d.h"

namespace shears {
namespace {

Napi::Value KmeansCluster(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    MatrixView w = matrix_arg(info[0], "W");
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data"), info[1]};
    const uint8_t* bits = typed_array<uint8_t>(info[1], "keep", mask_bytes(w.rows, w.cols)).data;
    Napi::Object o = options_arg(info, 2);
    const int b = static_cast<int>(get_int(o, "bits", 1, 8));
    const int iters = static_cast<int>(get_int(o, "maxIterations", 1, 1 << 30));
    const int index_bits = static_cast<int>(get_int(o, "indexBits", 1, 16));
    auto result = std::make_shared<KmeansResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.kmeansCluster", keep, [=] { *result = kmeans_cluster(w, bits, b, iters, index_bits); },
        [result](Napi::Env env) -> Napi::Value {
          const KmeansResult& r = *result;
          const size_t k = r.centroids.size();
          Napi::Object out = Napi::Object::New(env);
          out.Set("kept", static_cast<double>(r.kept));
          out.Set("iterations", r.iterations);
          out.Set("converged", r.converged);
          out.Set("sseInitial", r.sse_initial);
          out.Set("sseFinal", r.sse_final);
          out.Set("sseWritten", r.sse_written);
          out.Set("relativeEntries", static_cast<double>(r.relative_entries));
          auto centroids = Napi::Float64Array::New(env, k);
          auto written = Napi::Float32Array::New(env, k);
          auto counts = Napi::Float64Array::New(env, k);
          for (size_t i = 0; i < k; ++i) {
            centroids[i] = r.centroids[i];
            written[i] = r.written[i];
            counts[i] = static_cast<double>(r.counts[i]);
          }
          out.Set("centroids", centroids);
          out.Set("written", written);
          out.Set("counts", counts);
          return out;
        });
  });
}

}  // namespace

SHEARS_REGISTER(kmeans) { export_function(env, exports, "kmeansCluster", KmeansCluster, 3); }

}  // namespace shears
