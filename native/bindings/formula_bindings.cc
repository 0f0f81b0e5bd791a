// The formula method's native ops (native/cpu/formula_eval.h):
//   formulaScores(w, {code: Int32Array, consts: Float64Array}, inputs, out: Float32Array)
//     -> Promise<{nonFinite, first}>; inputs: {colSum?, colSumSq? (Float64Array, cols),
//     tokens, hdiag? (Float32Array, cols), gradSum?, fisherSum? (Float32Array, rows x cols),
//     gradScale, fisherScale, bias? ({data, dtype}, rows)}
//   formulaHdiag(sum: Float64Array | Float32Array (cols x cols), cols, count, out: Float32Array)
//     -> Promise<void>  (percdamp 0.01, SparseGPT's default)
#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/formula_eval.h"

namespace shears {
namespace {

bool given(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

Napi::Value FormulaScores(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    FormulaInputs in;
    in.w = matrix_arg(info[0], "w");
    const size_t rows = static_cast<size_t>(in.w.rows), cols = static_cast<size_t>(in.w.cols);
    if (!info[1].IsObject()) fail(kRangeError, "program must be an object {code, consts}");
    if (!info[2].IsObject()) fail(kRangeError, "inputs must be an object");
    Napi::Object p = info[1].As<Napi::Object>(), o = info[2].As<Napi::Object>();
    auto code = typed_array<int32_t>(p.Get("code"), "program.code");
    if (code.size % 2 != 0) fail(kShapeError, "program.code must hold (op, arg) pairs");
    auto consts = typed_array<double>(p.Get("consts"), "program.consts");
    FormulaProgram prog{code.data, code.size / 2, consts.data, consts.size};
    std::vector<Napi::Value> keep{info[0].As<Napi::Object>().Get("data"), p.Get("code"), p.Get("consts"), info[3]};
    auto hold = [&](const char* key) { keep.push_back(o.Get(key)); };
    if (given(o.Get("colSumSq"))) {
      in.col_sum_sq = typed_array<double>(o.Get("colSumSq"), "colSumSq", cols).data;
      hold("colSumSq");
    }
    if (given(o.Get("colSum"))) {
      in.col_sum = typed_array<double>(o.Get("colSum"), "colSum", cols).data;
      hold("colSum");
    }
    in.tokens = get_double(o, "tokens", 0);
    if (given(o.Get("hdiag"))) {
      in.hdiag = typed_array<float>(o.Get("hdiag"), "hdiag", cols).data;
      hold("hdiag");
    }
    if (given(o.Get("gradSum"))) {
      in.grad_sum = typed_array<float>(o.Get("gradSum"), "gradSum", rows * cols).data;
      hold("gradSum");
    }
    if (given(o.Get("fisherSum"))) {
      in.fisher_sum = typed_array<float>(o.Get("fisherSum"), "fisherSum", rows * cols).data;
      hold("fisherSum");
    }
    in.grad_scale = get_double(o, "gradScale", 1);
    in.fisher_scale = get_double(o, "fisherScale", 1);
    if (given(o.Get("bias"))) {
      if (!o.Get("bias").IsObject()) fail(kShapeError, "bias must be {data, dtype}");
      Napi::Object b = o.Get("bias").As<Napi::Object>();
      in.bias_dtype = parse_dtype(b.Get("dtype"), "bias.dtype");
      if (in.bias_dtype == DType::F32) in.bias = typed_array<float>(b.Get("data"), "bias.data", rows).data;
      else in.bias = typed_array<uint16_t>(b.Get("data"), "bias.data", rows).data;
      keep.push_back(b.Get("data"));
    }
    float* out = typed_array<float>(info[3], "out", rows * cols).data;
    formula_check(prog, in);
    auto result = std::make_shared<FormulaResult>();
    return PromiseWorker::Start(
        info.Env(), "shears.formulaScores", keep, [prog, in, out, result] { *result = formula_eval(prog, in, out); },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("nonFinite", Napi::Number::New(env, static_cast<double>(result->non_finite)));
          r.Set("first", Napi::Number::New(env, result->non_finite ? static_cast<double>(result->first) : -1.0));
          return r;
        });
  });
}

Napi::Value FormulaHdiag(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[1].IsNumber() || !info[2].IsNumber()) fail(kRangeError, "cols and count must be numbers");
    const double c = info[1].As<Napi::Number>().DoubleValue(), count = info[2].As<Napi::Number>().DoubleValue();
    if (!(c >= 1 && c <= 65536) || c != static_cast<double>(static_cast<int64_t>(c))) fail(kRangeError, "cols must be an integer in [1, 65536]");
    const size_t cols = static_cast<size_t>(c);
    const bool f64 = info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
    const void* s = f64 ? static_cast<const void*>(typed_array<double>(info[0], "sum", cols * cols).data)
                        : static_cast<const void*>(typed_array<float>(info[0], "sum", cols * cols).data);
    float* out = typed_array<float>(info[3], "out", cols).data;
    return PromiseWorker::Start(info.Env(), "shears.formulaHdiag", {info[0], info[3]},
                                [s, f64, cols, count, out] { formula_hdiag(s, f64, cols, count, 0.01, out); });
  });
}

}  // namespace

SHEARS_REGISTER(formula) {
  export_function(env, exports, "formulaScores", FormulaScores, 4);
  export_function(env, exports, "formulaHdiag", FormulaHdiag, 4);
}

}  // namespace shears
