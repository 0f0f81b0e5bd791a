// randomScores(out: Float32Array, seed: number, name: string) -> Promise<void>
// Fills out with the seeded uniform scores of the matrix called `name` (the random
// baselines' stream per matrix: native/cpu/random_scores.h).
#include <napi.h>

#include <cmath>
#include <string>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/random_scores.h"

namespace shears {
namespace {

Napi::Value RandomScores(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto out = typed_array<float>(info[0], "out");
    const double s = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
    // Integers JavaScript holds exactly: the seed maps to one 64-bit pattern.
    if (!(std::fabs(s) <= 9007199254740991.0) || s != std::floor(s)) fail(kRangeError, "seed must be an integer of magnitude at most 2^53 - 1");
    if (!info[2].IsString()) fail(kRangeError, "name must be a string");
    const std::string name = info[2].As<Napi::String>();
    const uint64_t seed = static_cast<uint64_t>(static_cast<int64_t>(s));
    const uint64_t stream = name_hash64(name.data(), name.size());
    float* data = out.data;
    const size_t n = out.size;
    return PromiseWorker::Start(info.Env(), "shears.randomScores", {info[0]}, [=] { random_scores(seed, stream, data, n); });
  });
}

}  // namespace

SHEARS_REGISTER(random) { export_function(env, exports, "randomScores", RandomScores, 3); }

}  // namespace shears
