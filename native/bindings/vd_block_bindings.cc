// Sparse variational dropout block by block (cpu/vd_block.h, docs/variational-dropout.md).
// Both calls run off the JavaScript thread and take the block as the forward pass
// describes it (lib/forward/model.ts blockSpec) plus the variational matrices by key
// (q, k, v, o, gate, up, down; up/down are fc1/fc2 of an ungated MLP); a key absent
// leaves that matrix dense. Arrays are Float32Arrays, row-major.
//   vdBlockMse(block, {x, target, batch, seq, seed, noise, out?, mats}) -> Promise<number>
//     mats[key]: {theta, logSigma2, dTheta?, dLogSigma2?, eps?}: one forward and backward of
//     the variational block (noise false: eps = 0); dTheta / dLogSigma2 receive the mean
//     squared error's gradients, eps the noise drawn, out the block's output.
//   vdTrainBlock(block, {x, target, sequences, seq, mats, steps, batchSequences, lrTheta,
//                lrLogSigma2, beta, klTokens, warmup, logSigma2Init, seed, cancel?})
//       -> Promise<{mseFirst, mseLast, mseMean, kl: {key: number}}>
//     mats[key]: {theta, logSigma2, logAlpha?, score?} written (theta starts at the dense
//     weights); logAlpha: clipped log alpha; score: -log alpha unclipped (the pruning score).
//     cancel: Int32Array(1), non-zero stops between steps (E_ABORTED).
#include <napi.h>

#include <array>
#include <cmath>
#include <memory>
#include <string>

#include "bindings/block_call.h"
#include "bindings/forward_specs.h"
#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "bindings/vd_schedule_arg.h"
#include "cpu/fwd_block.h"
#include "cpu/vd_block.h"
#include "cpu/vd_linear.h"
#include "cpu/vd_train.h"

namespace shears {
namespace {

constexpr const char* kKeys[kBlockLinears] = {"q", "k", "v", "o", "gate", "up", "down"};

const MatrixView& matrix_of(const BlockSpec& b, int m) {
  const MatrixView* ms[kBlockLinears] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
  return *ms[m];
}

float* optional_f32(const Napi::Object& o, const std::string& where, const char* key, size_t n, Keep& keep) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return nullptr;
  return f32_out(v, (where + "." + key).c_str(), n, keep);
}

// The variational matrices, with the per-matrix outputs named in `extra` (each optional).
struct MatsArgs {
  VdBlockParams p;
  std::array<float*, kBlockLinears> a{}, b{};  // the two optional per-matrix arrays of `extra`
  std::array<float*, kBlockLinears> eps{};
};

MatsArgs mats_arg(const Napi::Object& o, const BlockSpec& block, int64_t tokens, const char* extra_a, const char* extra_b,
                  bool with_eps, Keep& keep) {
  Napi::Object mats = object_arg(o.Get("mats"), "mats");
  MatsArgs r;
  int count = 0;
  for (int m = 0; m < kBlockLinears; ++m) {
    Napi::Value v = mats.Get(kKeys[m]);
    if (absent(v)) continue;
    const std::string where = std::string("mats.") + kKeys[m];
    const MatrixView& w = matrix_of(block, m);
    if (!w.data) fail(kShapeError, where + " is given but the block has no such matrix");
    Napi::Object mo = object_arg(v, where);
    const size_t n = w.numel();
    r.p[m].theta = f32_out(mo.Get("theta"), (where + ".theta").c_str(), n, keep);
    r.p[m].log_sigma2 = f32_out(mo.Get("logSigma2"), (where + ".logSigma2").c_str(), n, keep);
    r.a[m] = optional_f32(mo, where, extra_a, n, keep);
    r.b[m] = optional_f32(mo, where, extra_b, n, keep);
    if (with_eps) r.eps[m] = optional_f32(mo, where, "eps", static_cast<size_t>(tokens * w.rows), keep);
    ++count;
  }
  if (count == 0) fail(kShapeError, "mats names no matrix of the block");
  return r;
}

Napi::Value BlockMse(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    const BlockCall c = block_call(info, "batch", keep);
    const Napi::Object& o = c.o;
    const BlockSpec block = c.block;
    const int64_t batch = c.count, seq = c.seq, tokens = batch * seq;
    const float *x = c.x, *target = c.target;
    float* out = optional_f32(o, "options", "out", static_cast<size_t>(tokens * block.hidden), keep);
    auto mats = std::make_shared<MatsArgs>(mats_arg(o, block, tokens, "dTheta", "dLogSigma2", true, keep));
    for (int m = 0; m < kBlockLinears; ++m) {
      mats->p[m].d_theta = mats->a[m];
      mats->p[m].d_log_sigma2 = mats->b[m];
    }
    const uint64_t seed = static_cast<uint64_t>(get_int(o, "seed", 0, int64_t{1} << 53));
    const bool noise = o.Get("noise").ToBoolean();
    auto result = std::make_shared<double>(0.0);
    return PromiseWorker::Start(
        info.Env(), "shears.vdBlockMse", keep,
        [=] {
          VdRng rng{seed};
          *result = vd_block_mse(block, mats->p, noise ? &rng : nullptr, x, target, batch, seq, out, mats->eps);
        },
        [result](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *result); });
  });
}

Napi::Value TrainBlock(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    const BlockCall c = block_call(info, "sequences", keep);
    const Napi::Object& o = c.o;
    const BlockSpec block = c.block;
    const int64_t sequences = c.count, seq = c.seq;
    const float *x = c.x, *target = c.target;
    auto mats = std::make_shared<MatsArgs>(mats_arg(o, block, 0, "logAlpha", "score", false, keep));
    VdBlockSettings s;
    static_cast<VdSchedule&>(s) = vd_schedule_arg(o, static_cast<double>(sequences * seq));
    s.batch_sequences = get_int(o, "batchSequences", 1, INT32_MAX);
    const int32_t* cancel = cancel_arg(o, "cancel", keep);
    auto result = std::make_shared<VdBlockResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.vdTrainBlock", keep,
        [=] {
          *result = vd_train_block(block, mats->p, x, target, sequences, seq, s, cancel);
          for (int m = 0; m < kBlockLinears; ++m) {
            const VdMatrixParams& v = mats->p[m];
            if (!v.theta) continue;
            const size_t n = matrix_of(block, m).numel();
            if (mats->a[m]) vd_log_alpha(v.theta, v.log_sigma2, n, mats->a[m]);
            if (mats->b[m]) vd_keep_score(v.theta, v.log_sigma2, n, mats->b[m]);
          }
        },
        [result, mats](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("mseFirst", result->mse_first);
          r.Set("mseLast", result->mse_last);
          r.Set("mseMean", result->mse_mean);
          Napi::Object kl = Napi::Object::New(env);
          for (int m = 0; m < kBlockLinears; ++m)
            if (mats->p[m].theta) kl.Set(kKeys[m], result->kl[m]);
          r.Set("kl", kl);
          return r;
        });
  });
}

}  // namespace

SHEARS_REGISTER(vd_block) {
  export_function(env, exports, "vdBlockMse", BlockMse, 2);
  export_function(env, exports, "vdTrainBlock", TrainBlock, 2);
}

}  // namespace shears
