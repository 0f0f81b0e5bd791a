// Promise-returning binding of the backward pass (lib/native/backward.ts has the
// argument shapes):
//   bwdModel(model, tokens, batch, seq, grads, opts) -> {sum, count}
//     model: {blocks: block spec[], embed, pos|null, posOffset, head}   (as fwdBlock / fwdNll)
//     grads: {blocks: {attnNormWeight, q, qBias, ...}[], embed|null, pos|null,
//             head: {normWeight, normBias, lm}}: Float32Arrays, written (whatever they held)
//     opts:  {backend, cancel: Int32Array(1), keepActivationBytes}: cancel[0] != 0 stops
//            between blocks (E_ABORTED); keepActivationBytes (default 256 MiB): see cpu/bwd_model.h;
//            teacherLogits (optional Float32Array, batch*seq*vocab): distil from them (KL) instead of the NLL
//            (bwdModel and bwdMoments)
//   bwdMoments(model, tokens, batch, seq, moments, opts) -> {sum, count}
//     moments: one entry per block, {q, k, v, o, gate, up, down} each absent or
//              {sum?: Float32Array, sumSq?: Float32Array} (the weight's size): sum += G,
//              sumSq += G^2 for this call's gradient G (accumulate mode, cpu/bwd_model.h)
//     opts.workspace: optional [q, k, v, o, gate, up, down] Float32Arrays (or null) to hold
//              one block's gradient of each kind, reused across calls (MomentWorkspace)
// Arguments are checked on the JS thread; the arrays are used in place by a libuv worker.
#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/forward_specs.h"
#include "bindings/js_args.h"
#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/bwd_model.h"

namespace shears {
namespace {

// Activations kept from the forward by default: enough for small models to skip the
// recomputation entirely, a bounded share of memory for large ones.
constexpr size_t kDefaultKeepBytes = size_t(256) << 20;

// grads[key]: a Float32Array of n elements when the parameter exists (present), absent
// otherwise; an array for a parameter the model lacks is an error.
float* grad_arg(const Napi::Object& o, const char* key, const std::string& where, bool present, size_t n, Keep& keep) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return nullptr;
  const std::string what = where + "." + key;
  if (!present) fail(kShapeError, what + " is given but the model has no such parameter");
  return f32_out(v, what.c_str(), n, keep);
}

size_t numel(const MatrixView& m) { return m.numel(); }

BlockGrads block_grads_arg(const Napi::Value& v, const BlockSpec& b, const std::string& where, Keep& keep) {
  Napi::Object o = object_arg(v, where);
  BlockGrads g;
  const size_t H = static_cast<size_t>(b.hidden), I = static_cast<size_t>(b.intermediate);
  const size_t qd = static_cast<size_t>(b.heads * b.head_dim), kd = static_cast<size_t>(b.kv_heads * b.head_dim);
  const bool at = b.has_attention(), ml = b.has_mlp();
  g.attn_norm_weight = grad_arg(o, "attnNormWeight", where, at && b.attn_norm.weight.present(), H, keep);
  g.attn_norm_bias = grad_arg(o, "attnNormBias", where, at && b.attn_norm.bias.present(), H, keep);
  g.q = grad_arg(o, "q", where, at, at ? numel(b.q) : 0, keep);
  g.k = grad_arg(o, "k", where, at, at ? numel(b.k) : 0, keep);
  g.v = grad_arg(o, "v", where, at, at ? numel(b.v) : 0, keep);
  g.o = grad_arg(o, "o", where, at, at ? numel(b.o) : 0, keep);
  g.q_bias = grad_arg(o, "qBias", where, at && b.q_bias.present(), qd, keep);
  g.k_bias = grad_arg(o, "kBias", where, at && b.k_bias.present(), kd, keep);
  g.v_bias = grad_arg(o, "vBias", where, at && b.v_bias.present(), kd, keep);
  g.o_bias = grad_arg(o, "oBias", where, at && b.o_bias.present(), H, keep);
  g.mlp_norm_weight = grad_arg(o, "mlpNormWeight", where, ml && b.mlp_norm.weight.present(), H, keep);
  g.mlp_norm_bias = grad_arg(o, "mlpNormBias", where, ml && b.mlp_norm.bias.present(), H, keep);
  g.gate = grad_arg(o, "gate", where, ml && b.gated, ml && b.gated ? numel(b.gate) : 0, keep);
  g.up = grad_arg(o, "up", where, ml, ml ? numel(b.up) : 0, keep);
  g.down = grad_arg(o, "down", where, ml, ml ? numel(b.down) : 0, keep);
  g.gate_bias = grad_arg(o, "gateBias", where, ml && b.gate_bias.present(), I, keep);
  g.up_bias = grad_arg(o, "upBias", where, ml && b.up_bias.present(), I, keep);
  g.down_bias = grad_arg(o, "downBias", where, ml && b.down_bias.present(), H, keep);
  return g;
}

// The model, tokens and options shared by both calls, checked on the JS thread.
struct BackwardArgs {
  ModelSpec m;
  Span<int32_t> tokens;
  int64_t batch = 0, seq = 0;
  const int32_t* cancel = nullptr;
  size_t keep_bytes = kDefaultKeepBytes;
  const float* teacher = nullptr;  // opts.teacherLogits: distil instead of the NLL
};

BackwardArgs backward_args(const Napi::CallbackInfo& info, Keep& keep) {
  BackwardArgs a;
  ModelSpec& m = a.m;
  Napi::Object mo = object_arg(info[0], "model");
  Napi::Value bv = mo.Get("blocks");
  if (!bv.IsArray()) fail(kShapeError, "model.blocks must be an array");
  Napi::Array blocks = bv.As<Napi::Array>();
  for (uint32_t i = 0; i < blocks.Length(); ++i) {
    m.blocks.push_back(block_arg(blocks.Get(i), keep));
    check_block(m.blocks.back());
  }
  m.embed = mat(mo.Get("embed"), "embed", keep);
  if (!absent(mo.Get("pos"))) {
    m.has_pos = true;
    m.pos = mat(mo.Get("pos"), "pos", keep);
    if (m.pos.cols != m.embed.cols) fail(kShapeError, "pos has " + std::to_string(m.pos.cols) + " columns, embed " + std::to_string(m.embed.cols));
  }
  m.pos_offset = int_arg(mo.Get("posOffset"), "posOffset", 0, INT32_MAX);
  m.head = head_arg(mo.Get("head"), keep);
  const int64_t H = m.embed.cols;
  if (m.head.lm.cols != H) fail(kShapeError, "lm head has " + std::to_string(m.head.lm.cols) + " columns, hidden size is " + std::to_string(H));
  for (const BlockSpec& b : m.blocks)
    if (b.hidden != H) fail(kShapeError, "a block's hidden size " + std::to_string(b.hidden) + " differs from the embedding's " + std::to_string(H));

  a.tokens = typed_array<int32_t>(info[1], "tokens");
  keep.push_back(info[1]);
  a.batch = int_arg(info[2], "batch", 1, INT32_MAX);
  a.seq = int_arg(info[3], "seq", 2, INT32_MAX);
  if (static_cast<int64_t>(a.tokens.size) != a.batch * a.seq)
    fail(kShapeError, "tokens has " + std::to_string(a.tokens.size) + " ids, expected batch*seq = " + std::to_string(a.batch * a.seq));
  if (m.has_pos && a.seq - 1 + m.pos_offset >= m.pos.rows)
    fail(kRangeError, "a sequence of " + std::to_string(a.seq) + " tokens needs learned positions up to " +
                          std::to_string(a.seq - 1 + m.pos_offset) + ", the table has " + std::to_string(m.pos.rows) + " rows");

  Napi::Object opts = options_arg(info, 5);
  a.cancel = cancel_arg(opts, "opts.cancel", keep);
  if (!absent(opts.Get("keepActivationBytes")))
    a.keep_bytes = static_cast<size_t>(get_int(opts, "keepActivationBytes", 0, int64_t(1) << 53));
  if (!absent(opts.Get("teacherLogits"))) {
    const Span<float> t = typed_array<float>(opts.Get("teacherLogits"), "opts.teacherLogits");
    const uint64_t want = static_cast<uint64_t>(a.batch * a.seq) * static_cast<uint64_t>(m.head.lm.rows);
    if (t.size != want)
      fail(kShapeError, "opts.teacherLogits has " + std::to_string(t.size) + " values, expected batch*seq*vocab = " + std::to_string(want));
    keep.push_back(opts.Get("teacherLogits"));
    a.teacher = t.data;
  }
  return a;
}

Napi::Value nll_total(Napi::Env env, const NllTotal& t) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("sum", t.sum);
  r.Set("count", static_cast<double>(t.count));
  return r;
}

Napi::Value ModelBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    BackwardArgs a = backward_args(info, keep);
    const ModelSpec& m = a.m;
    const int64_t H = m.embed.cols;
    const size_t L = m.blocks.size();
    Napi::Object go = object_arg(info[4], "grads");
    Napi::Value gbv = go.Get("blocks");
    if (!gbv.IsArray() || gbv.As<Napi::Array>().Length() != L)
      fail(kShapeError, "grads.blocks must be an array of " + std::to_string(L) + " entries");
    ModelGrads g;
    for (uint32_t i = 0; i < L; ++i)
      g.blocks.push_back(block_grads_arg(gbv.As<Napi::Array>().Get(i), m.blocks[i], "grads.blocks[" + std::to_string(i) + "]", keep));
    g.embed = grad_arg(go, "embed", "grads", true, m.embed.numel(), keep);
    g.pos = grad_arg(go, "pos", "grads", m.has_pos, m.has_pos ? m.pos.numel() : 0, keep);
    Napi::Object ho = absent(go.Get("head")) ? Napi::Object::New(info.Env()) : object_arg(go.Get("head"), "grads.head");
    g.head.norm_weight = grad_arg(ho, "normWeight", "grads.head", m.head.has_norm && m.head.norm.weight.present(), static_cast<size_t>(H), keep);
    g.head.norm_bias = grad_arg(ho, "normBias", "grads.head", m.head.has_norm && m.head.norm.bias.present(), static_cast<size_t>(H), keep);
    g.head.lm = grad_arg(ho, "lm", "grads.head", true, m.head.lm.numel(), keep);

    ForwardBackend& be = backend_of(info, 5);
    auto total = std::make_shared<NllTotal>();
    return PromiseWorker::Start(
        info.Env(), "shears.bwdModel", keep,
        [&be, a, g, total] { *total = be.model_backward(a.m, g, a.tokens.data, a.batch, a.seq, a.cancel, a.keep_bytes, a.teacher); },
        [total](Napi::Env env) { return nll_total(env, *total); });
  });
}

// moments[where][key]: absent, or {sum?, sumSq?} Float32Arrays of n elements; given for a
// matrix the block lacks: an error.
GradMoments moments_arg(const Napi::Object& o, const char* key, const std::string& where, bool present, size_t n, Keep& keep) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return GradMoments();
  const std::string what = where + "." + key;
  if (!present) fail(kShapeError, what + " is given but the block has no such matrix");
  Napi::Object mo = object_arg(v, what);
  GradMoments g;
  if (!absent(mo.Get("sum"))) g.sum = f32_out(mo.Get("sum"), (what + ".sum").c_str(), n, keep);
  if (!absent(mo.Get("sumSq"))) g.sum_sq = f32_out(mo.Get("sumSq"), (what + ".sumSq").c_str(), n, keep);
  return g;
}

BlockMoments block_moments_arg(const Napi::Value& v, const BlockSpec& b, const std::string& where, Keep& keep) {
  BlockMoments g;
  if (absent(v)) return g;
  Napi::Object o = object_arg(v, where);
  const bool at = b.has_attention(), ml = b.has_mlp(), gated = ml && b.gated;
  g.q = moments_arg(o, "q", where, at, at ? numel(b.q) : 0, keep);
  g.k = moments_arg(o, "k", where, at, at ? numel(b.k) : 0, keep);
  g.v = moments_arg(o, "v", where, at, at ? numel(b.v) : 0, keep);
  g.o = moments_arg(o, "o", where, at, at ? numel(b.o) : 0, keep);
  g.gate = moments_arg(o, "gate", where, gated, gated ? numel(b.gate) : 0, keep);
  g.up = moments_arg(o, "up", where, ml, ml ? numel(b.up) : 0, keep);
  g.down = moments_arg(o, "down", where, ml, ml ? numel(b.down) : 0, keep);
  return g;
}

// opts.workspace: absent, or an array of 7 entries (q k v o gate up down), each a
// Float32Array the call may write one block's gradient of that kind into, or null.
MomentWorkspace workspace_arg(const Napi::CallbackInfo& info, Keep& keep) {
  MomentWorkspace ws;
  Napi::Object opts = options_arg(info, 5);
  Napi::Value v = opts.Get("workspace");
  if (absent(v)) return ws;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 7) fail(kShapeError, "opts.workspace must be an array of 7 entries (q k v o gate up down)");
  for (uint32_t s = 0; s < 7; ++s) {
    Napi::Value b = v.As<Napi::Array>().Get(s);
    if (absent(b)) continue;
    const Span<float> span = typed_array<float>(b, "opts.workspace[]");
    keep.push_back(b);
    ws.buf[s] = span.data;
    ws.size[s] = span.size;
  }
  return ws;
}

Napi::Value ModelBackwardMoments(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    BackwardArgs a = backward_args(info, keep);
    const size_t L = a.m.blocks.size();
    Napi::Value mv = info[4];
    if (!mv.IsArray() || mv.As<Napi::Array>().Length() != L) fail(kShapeError, "moments must be an array of " + std::to_string(L) + " entries");
    std::vector<BlockMoments> acc;
    for (uint32_t i = 0; i < L; ++i)
      acc.push_back(block_moments_arg(mv.As<Napi::Array>().Get(i), a.m.blocks[i], "moments[" + std::to_string(i) + "]", keep));
    const MomentWorkspace ws = workspace_arg(info, keep);
    backend_of(info, 5);  // checks the backend's name; the accumulate mode runs on the CPU
    auto total = std::make_shared<NllTotal>();
    return PromiseWorker::Start(
        info.Env(), "shears.bwdMoments", keep,
        [a, acc = std::move(acc), ws, total] {
          *total = model_backward_moments(a.m, acc, a.tokens.data, a.batch, a.seq, a.cancel, a.keep_bytes, &ws, a.teacher);
        },
        [total](Napi::Env env) { return nll_total(env, *total); });
  });
}

}  // namespace

SHEARS_REGISTER(backward) {
  export_function(env, exports, "bwdModel", ModelBackward, 6);
  export_function(env, exports, "bwdMoments", ModelBackwardMoments, 6);
}

}  // namespace shears
