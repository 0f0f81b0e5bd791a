// Learned masks block by block (cpu/hc_block.h, docs/query-aware-building-blocks.md). Both
// calls run off the JavaScript thread and take the block as the forward pass describes it
// (lib/forward/model.ts blockSpec) plus the gated matrices by key (q, k, v, o, gate, up,
// down; up/down are fc1/fc2 of an ungated MLP); a key absent leaves that matrix dense.
// Arrays are Float32Arrays, row-major. Common options: x, target [count*seq, hidden],
// weights? [count*seq] (per-token loss weights, default 1), lambda, targetDensity, targets?
// ({key: density}: one penalty term per matrix instead), beta, gamma, zeta (the gate).
//   hcBlockLoss(block, {..., batch, seq, mats: {key: {theta, u?, dTheta?}}, out?})
//       -> Promise<{mse, penalty, loss, density}>
//     u: the gates' uniforms (absent: the mean gate); dTheta receives dLoss/dtheta.
//   hcTrainBlock(block, {..., sequences, seq, mats: {key: {theta}}, steps, lr,
//                batchSequences, seed, cancel?})
//       -> Promise<{first: {mse, penalty, loss, density}, last: {...}, mseMean}>
//     theta is read as the start and written; cancel: Int32Array(1), non-zero stops
//     between steps (E_ABORTED).
#include <napi.h>

#include <array>
#include <memory>
#include <string>

#include "bindings/block_call.h"
#include "bindings/forward_specs.h"
#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "bindings/vd_schedule_arg.h"  // vd_setting
#include "cpu/fwd_block.h"
#include "cpu/hc_block.h"

namespace shears {
namespace {

constexpr const char* kKeys[kBlockLinears] = {"q", "k", "v", "o", "gate", "up", "down"};

size_t matrix_size(const BlockSpec& b, int m) {
  const MatrixView* ms[kBlockLinears] = {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
  if (!ms[m]->data) fail(kShapeError, std::string("mats.") + kKeys[m] + " is given but the block has no such matrix");
  return ms[m]->numel();
}

float* optional_f32(const Napi::Object& o, const std::string& where, const char* key, size_t n, Keep& keep) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return nullptr;
  return f32_out(v, (where + "." + key).c_str(), n, keep);
}

HcBlockParams mats_arg(const Napi::Object& o, const BlockSpec& block, bool with_u, Keep& keep) {
  Napi::Object mats = object_arg(o.Get("mats"), "mats");
  HcBlockParams p;
  for (int m = 0; m < kBlockLinears; ++m) {
    Napi::Value v = mats.Get(kKeys[m]);
    if (absent(v)) continue;
    const std::string where = std::string("mats.") + kKeys[m];
    const size_t n = matrix_size(block, m);
    Napi::Object mo = object_arg(v, where);
    p[m].theta = f32_out(mo.Get("theta"), (where + ".theta").c_str(), n, keep);
    if (with_u) {
      p[m].u = optional_f32(mo, where, "u", n, keep);
      p[m].d_theta = optional_f32(mo, where, "dTheta", n, keep);
    }
  }
  return p;
}

HcObjective objective_arg(const Napi::Object& o, const HcBlockParams& p) {
  HcObjective ob;
  ob.gate.beta = get_double(o, "beta", ob.gate.beta);
  ob.gate.gamma = get_double(o, "gamma", ob.gate.gamma);
  ob.gate.zeta = get_double(o, "zeta", ob.gate.zeta);
  ob.lambda = get_double(o, "lambda", ob.lambda);
  ob.target_density = get_double(o, "targetDensity", ob.target_density);
  Napi::Value t = o.Get("targets");
  if (!absent(t)) {
    Napi::Object to = object_arg(t, "targets");
    ob.per_matrix = true;
    for (int m = 0; m < kBlockLinears; ++m) {
      if (!p[m].theta) continue;
      if (absent(to.Get(kKeys[m]))) fail(kRangeError, std::string("targets.") + kKeys[m] + " is missing: every gated matrix needs a target");
      ob.targets[m] = get_double(to, kKeys[m], 0.0);
    }
  }
  return ob;
}

Napi::Object loss_object(Napi::Env env, const HcLoss& l) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("mse", l.mse);
  r.Set("penalty", l.penalty);
  r.Set("loss", l.total());
  r.Set("density", l.density);
  return r;
}

// What both calls read: the block and data, the gated matrices, the objective (checked).
// Plain values only, so the worker captures no JavaScript handle.
struct GatedCall {
  BlockSpec block;
  const float *x = nullptr, *target = nullptr, *weights = nullptr;
  int64_t count = 0, seq = 0;
  HcBlockParams p;
  HcObjective objective;
};

GatedCall gated_call(const Napi::CallbackInfo& info, const char* count_key, bool with_u, Keep& keep, Napi::Object& o) {
  const BlockCall c = block_call(info, count_key, keep);
  o = c.o;
  GatedCall g;
  g.block = c.block;
  g.x = c.x;
  g.target = c.target;
  g.count = c.count;
  g.seq = c.seq;
  g.weights = optional_f32(o, "options", "weights", static_cast<size_t>(c.count * c.seq), keep);
  g.p = mats_arg(o, c.block, with_u, keep);
  g.objective = objective_arg(o, g.p);
  check_objective(c.block, g.p, g.objective);
  return g;
}

Napi::Value BlockLoss(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    Napi::Object o;
    const GatedCall g = gated_call(info, "batch", true, keep, o);
    float* out = optional_f32(o, "options", "out", static_cast<size_t>(g.count * g.seq * g.block.hidden), keep);
    auto result = std::make_shared<HcLoss>();
    return PromiseWorker::Start(
        info.Env(), "shears.hcBlockLoss", keep,
        [=] { *result = hc_block_loss(g.block, g.p, g.x, g.target, g.weights, g.count, g.seq, g.objective, out); },
        [result](Napi::Env env) -> Napi::Value { return loss_object(env, *result); });
  });
}

Napi::Value TrainBlock(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    Napi::Object o;
    const GatedCall g = gated_call(info, "sequences", false, keep, o);
    HcTrainSettings s;
    s.objective = g.objective;
    s.steps = get_int(o, "steps", 1, 10000000);
    s.lr = vd_setting(o, "lr", s.lr, 1e-12, 1e6);
    s.batch_sequences = get_int(o, "batchSequences", 1, INT32_MAX);
    s.seed = static_cast<uint64_t>(get_int(o, "seed", 0, int64_t{1} << 53));
    const int32_t* cancel = cancel_arg(o, "cancel", keep);
    auto result = std::make_shared<HcTrainResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.hcTrainBlock", keep,
        [=] { *result = hc_train_block(g.block, g.p, g.x, g.target, g.weights, g.count, g.seq, s, cancel); },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("first", loss_object(env, result->first));
          r.Set("last", loss_object(env, result->last));
          r.Set("mseMean", result->mse_mean);
          return r;
        });
  });
}

}  // namespace

SHEARS_REGISTER(mask) {
  export_function(env, exports, "hcBlockLoss", BlockLoss, 2);
  export_function(env, exports, "hcTrainBlock", TrainBlock, 2);
}

}  // namespace shears
