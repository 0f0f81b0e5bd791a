// Parsing the option objects shared by the kernel bindings.
#pragma once
#include <napi.h>

#include <string>

#include "core/backend.h"
#include "bindings/js_args.h"

namespace shears {

// The `backend` option every compute binding takes: "auto" (the default), "cpu" or
// "cuda"; core/backend.h says what each means.
inline std::string backend_name(const Napi::Object& opts) {
  Napi::Value v = opts.Get("backend");
  if (v.IsUndefined() || v.IsNull()) return kDefaultBackend;
  if (!v.IsString()) fail(kBackendError, "backend must be 'auto', 'cpu' or 'cuda'");
  return v.As<Napi::String>();
}

inline Backend& backend_arg(const Napi::Object& opts) { return backend_by_name(backend_name(opts)); }

// Argument i as an options object; absent (or not an object) reads as {}.
inline Napi::Object options_arg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject()) return Napi::Object::New(info.Env());
  return info[i].As<Napi::Object>();
}

// {p, q, act?}: act is a Float32Array of length cols.
inline ScoreParams score_arg(const Napi::Object& o, int64_t rows, int64_t cols, std::vector<Napi::Value>& keep) {
  ScoreParams sp;
  sp.p = get_double(o, "p", 1.0);
  sp.q = get_double(o, "q", 0.0);
  Napi::Value act = o.Get("act");
  if (!act.IsUndefined() && !act.IsNull()) {
    sp.act = typed_array<float>(act, "act", static_cast<size_t>(cols)).data;
    keep.push_back(act);
  }
  Napi::Value pw = o.Get("perWeight");
  if (!pw.IsUndefined() && !pw.IsNull()) {
    sp.per_weight = typed_array<float>(pw, "perWeight", static_cast<size_t>(rows * cols)).data;
    keep.push_back(pw);
    sp.per_weight_exp = get_double(o, "perWeightExponent", 1.0);
    sp.per_weight_scale = get_double(o, "perWeightScale", 1.0);
    sp.act_scale = get_double(o, "actScale", 1.0);
  }
  return sp;
}

// {sparsity, granularity: 'row'|'matrix', n?, m?}
inline Selection selection_arg(const Napi::Object& o) {
  Selection s;
  s.sparsity = get_double(o, "sparsity", 0.0);
  Napi::Value g = o.Get("granularity");
  std::string gs = g.IsString() ? std::string(g.As<Napi::String>()) : std::string("row");
  if (gs == "row") s.granularity = Granularity::Row;
  else if (gs == "matrix") s.granularity = Granularity::Matrix;
  else fail(kRangeError, "granularity must be 'row' or 'matrix', got '" + gs + "'");
  Napi::Value m = o.Get("m");
  if (!m.IsUndefined() && !m.IsNull()) {
    s.n = static_cast<int>(get_int(o, "n", 0, 1 << 20));
    s.m = static_cast<int>(get_int(o, "m", 0, 1 << 20));
    if (s.m < 1) s.m = 1;  // so that nm() holds and check_selection names the bad pattern
  }
  return s;
}

inline size_t mask_bytes(int64_t rows, int64_t cols) {
  return (static_cast<size_t>(rows) * static_cast<size_t>(cols) + 7) / 8;
}

// {bits: Uint8Array, prunedPerRow?: Uint32Array} sized for rows x cols.
inline MaskOut mask_arg(const Napi::Object& o, int64_t rows, int64_t cols, std::vector<Napi::Value>& keep) {
  MaskOut out;
  out.bits = typed_array<uint8_t>(o.Get("bits"), "mask.bits", mask_bytes(rows, cols)).data;
  keep.push_back(o.Get("bits"));
  Napi::Value ppr = o.Get("prunedPerRow");
  if (!ppr.IsUndefined() && !ppr.IsNull()) {
    out.pruned_per_row = typed_array<uint32_t>(ppr, "mask.prunedPerRow", static_cast<size_t>(rows)).data;
    keep.push_back(ppr);
  }
  return out;
}

}  // namespace shears
