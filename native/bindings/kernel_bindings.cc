// Promise-returning bindings of the pruning kernels. Argument objects are read on
// the JS thread; the typed arrays are then used in place by a libuv worker.
//   score(W, {p, q, act, backend}, out)                    W: {data, dtype, rows, cols}
//   select(scores, rows, cols, selection, mask, {backend})  mask: {bits, prunedPerRow?}
//   selectGlobal([{scores, rows, cols, mask}], sparsity, {backend})
//   applyMask(W, mask, {backend})
//   prune(W, score, selection, mask, {backend})             score + select + apply, fused
#include <napi.h>

#include <vector>

#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"

namespace shears {
namespace {

Napi::Object obj(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) fail(kShapeError, std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

// Resolves with the total number of pruned weights (sum of prunedPerRow).
PromiseWorker::Done total_pruned(const MaskOut& out, int64_t rows) {
  uint32_t* ppr = out.pruned_per_row;
  return [ppr, rows](Napi::Env env) -> Napi::Value {
    if (!ppr) return env.Undefined();
    double t = 0;
    for (int64_t r = 0; r < rows; ++r) t += ppr[r];
    return Napi::Number::New(env, t);
  };
}

Napi::Value Score(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data")};
    MatrixView w = matrix_arg(info[0], "W");
    Napi::Object so = obj(info, 1, "score options");
    ScoreParams sp = score_arg(so, w.rows, w.cols, keep);
    float* out = typed_array<float>(info[2], "scores", w.numel()).data;
    keep.push_back(info[2]);
    Backend& be = backend_arg(so);
    return PromiseWorker::Start(info.Env(), "shears.score", keep, [&be, w, sp, out] { be.score(w, sp, out); });
  });
}

Napi::Value Select(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("rows", info[1]);
    o.Set("cols", info[2]);
    int64_t rows = get_int(o, "rows", 1, INT32_MAX), cols = get_int(o, "cols", 1, INT32_MAX);
    const float* scores = typed_array<float>(info[0], "scores", static_cast<size_t>(rows * cols)).data;
    std::vector<Napi::Value> keep{info[0]};
    Selection sel = selection_arg(obj(info, 3, "selection"));
    MaskOut out = mask_arg(obj(info, 4, "mask"), rows, cols, keep);
    Backend& be = backend_arg(options_arg(info, 5));
    return PromiseWorker::Start(info.Env(), "shears.select", keep,
                                [&be, scores, rows, cols, sel, out] { be.select(scores, rows, cols, sel, out); },
                                total_pruned(out, rows));
  });
}

Napi::Value SelectGlobal(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsArray()) fail(kShapeError, "items must be an array");
    auto arr = info[0].As<Napi::Array>();
    std::vector<Napi::Value> keep;
    std::vector<GlobalItem> items;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Object it = arr.Get(i).As<Napi::Object>();
      int64_t rows = get_int(it, "rows", 1, INT32_MAX), cols = get_int(it, "cols", 1, INT32_MAX);
      GlobalItem g;
      g.scores = typed_array<float>(it.Get("scores"), "items[].scores", static_cast<size_t>(rows * cols)).data;
      keep.push_back(it.Get("scores"));
      g.rows = rows;
      g.cols = cols;
      g.out = mask_arg(it.Get("mask").As<Napi::Object>(), rows, cols, keep);
      items.push_back(g);
    }
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("sparsity", info[1]);
    double sparsity = get_double(o, "sparsity", -1.0);
    Backend& be = backend_arg(options_arg(info, 2));
    std::vector<PromiseWorker::Done> totals;
    for (auto& it : items) totals.push_back(total_pruned(it.out, it.rows));
    return PromiseWorker::Start(
        info.Env(), "shears.selectGlobal", keep, [&be, items, sparsity]() mutable { be.select_global(items, sparsity); },
        [totals](Napi::Env env) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, totals.size());
          for (uint32_t i = 0; i < totals.size(); ++i) a.Set(i, totals[i](env));
          return a;
        });
  });
}

Napi::Value ApplyMask(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data")};
    MatrixView w = matrix_arg(info[0], "W");
    MaskOut m = mask_arg(obj(info, 1, "mask"), w.rows, w.cols, keep);
    Backend& be = backend_arg(options_arg(info, 2));
    return PromiseWorker::Start(info.Env(), "shears.applyMask", keep,
                                [&be, w, m] { be.apply_mask(w, m.bits, m.pruned_per_row); }, total_pruned(m, w.rows));
  });
}

Napi::Value Prune(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data")};
    MatrixView w = matrix_arg(info[0], "W");
    ScoreParams sp = score_arg(obj(info, 1, "score options"), w.rows, w.cols, keep);
    Selection sel = selection_arg(obj(info, 2, "selection"));
    MaskOut out = mask_arg(obj(info, 3, "mask"), w.rows, w.cols, keep);
    Backend& be = backend_arg(options_arg(info, 4));
    return PromiseWorker::Start(info.Env(), "shears.prune", keep,
                                [&be, w, sp, sel, out] { be.prune(w, sp, sel, out); }, total_pruned(out, w.rows));
  });
}

}  // namespace

SHEARS_REGISTER(kernels) {
  export_function(env, exports, "score", Score, 3);
  export_function(env, exports, "select", Select, 6);
  export_function(env, exports, "selectGlobal", SelectGlobal, 3);
  export_function(env, exports, "applyMask", ApplyMask, 3);
  export_function(env, exports, "prune", Prune, 5);
}

}  // namespace shears
