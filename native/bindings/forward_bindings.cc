// Promise-returning bindings of the forward pass (see lib/native/forward.ts for the
// argument shapes). Arguments are parsed and checked on the JS thread; the typed
// arrays are then used in place by a libuv worker.
//   fwdMatmul(x, n, W, bias|null, y, opts)            y = x W^T (+ bias)
//   fwdEmbed(tokens, seq, table, pos|null, posOffset, out, opts)     opts.start: first position
//   fwdBlock(spec, hidden, batch, seq, captures|null, opts)          opts.kv: {k, v, capacity, start}
//   fwdNll(head, hidden, rows, targets, out, opts) -> {sum, count}
//   fwdLogits(head, hidden, rows, out, opts)
//   fwdArgmax(x, rows, cols, out)                    out[r] = argmax_j x[r][j]
//   fwdKlTop1(a, b, rows, vocab, kl, argA, argB) -> {klMean, top1Agreement}
// (The matmul's instruction-set variant is the CPU feature level: cpuFeatures /
// setCpuFeatures in runtime_bindings.cc.)
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings/js_args.h"
#include "bindings/forward_specs.h"
#include "bindings/parse_specs.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "cpu/fwd_backend.h"
#include "cpu/fwd_block.h"

namespace shears {
namespace {

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    const int64_t n = int_arg(info[1], "n", 1, INT32_MAX);
    MatrixView w = mat(info[2], "W", keep);
    const float* x = f32_out(info[0], "x", static_cast<size_t>(n * w.cols), keep);
    const float* bias = absent(info[3]) ? nullptr : f32_out(info[3], "bias", static_cast<size_t>(w.rows), keep);
    float* y = f32_out(info[4], "y", static_cast<size_t>(n * w.rows), keep);
    ForwardBackend& be = backend_of(info, 5);
    return PromiseWorker::Start(info.Env(), "shears.fwdMatmul", keep, [&be, x, n, w, bias, y] { be.matmul(x, n, w, bias, y); });
  });
}

Napi::Value Embed(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep{info[0]};
    auto tokens = typed_array<int32_t>(info[0], "tokens");
    const int64_t n = static_cast<int64_t>(tokens.size);
    const int64_t seq = int_arg(info[1], "seq", 1, INT32_MAX);
    if (n % seq != 0) fail(kShapeError, "tokens has " + std::to_string(n) + " elements, not a multiple of seq " + std::to_string(seq));
    MatrixView table = mat(info[2], "embed", keep);
    bool has_pos = !absent(info[3]);
    MatrixView pos;
    if (has_pos) {
      pos = mat(info[3], "pos", keep);
      if (pos.cols != table.cols) fail(kShapeError, "pos has " + std::to_string(pos.cols) + " columns, embed " + std::to_string(table.cols));
    }
    const int64_t offset = int_arg(info[4], "posOffset", 0, INT32_MAX);
    float* out = f32_out(info[5], "out", static_cast<size_t>(n * table.cols), keep);
    ForwardBackend& be = backend_of(info, 6);
    int64_t start = 0;
    if (info.Length() > 6 && info[6].IsObject() && !absent(info[6].As<Napi::Object>().Get("start")))
      start = get_int(info[6].As<Napi::Object>(), "start", 0, INT32_MAX);
    return PromiseWorker::Start(info.Env(), "shears.fwdEmbed", keep, [&be, tokens, n, seq, start, table, has_pos, pos, offset, out] {
      be.embed(tokens.data, n, seq, start, table, has_pos ? &pos : nullptr, offset, out);
    });
  });
}

Napi::Value Block(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    BlockSpec spec = block_arg(info[0], keep);
    const int64_t batch = int_arg(info[2], "batch", 1, INT32_MAX), seq = int_arg(info[3], "seq", 1, INT32_MAX);
    const int64_t T = batch * seq;
    float* hidden = f32_out(info[1], "hidden", static_cast<size_t>(T * spec.hidden), keep);
    BlockCaptures cap;
    if (!absent(info[4])) {
      Napi::Object c = object_arg(info[4], "captures");
      auto opt = [&](const char* key, int64_t width) -> float* {
        Napi::Value v = c.Get(key);
        return absent(v) ? nullptr : f32_out(v, (std::string("captures.") + key).c_str(), static_cast<size_t>(T * width), keep);
      };
      cap.attn_in = opt("attnIn", spec.hidden);
      cap.o_in = opt("oIn", spec.heads * spec.head_dim);
      cap.mlp_in = opt("mlpIn", spec.hidden);
      cap.down_in = opt("downIn", spec.intermediate);
    }
    check_block(spec);
    ForwardBackend& be = backend_of(info, 5);
    bool has_kv = false;
    KvCache kv;
    if (info.Length() > 5 && info[5].IsObject() && !absent(info[5].As<Napi::Object>().Get("kv"))) {
      Napi::Object o = object_arg(info[5].As<Napi::Object>().Get("kv"), "kv");
      has_kv = true;
      kv.capacity = get_int(o, "capacity", 1, INT32_MAX);
      kv.start = get_int(o, "start", 0, INT32_MAX);
      const size_t n = static_cast<size_t>(batch * kv.capacity * spec.kv_heads * spec.head_dim);
      kv.k = f32_out(o.Get("k"), "kv.k", n, keep);
      kv.v = f32_out(o.Get("v"), "kv.v", n, keep);
      if (kv.start + seq > kv.capacity)
        fail(kRangeError, "KV cache of " + std::to_string(kv.capacity) + " positions cannot take positions " +
                              std::to_string(kv.start) + " to " + std::to_string(kv.start + seq - 1));
    }
    return PromiseWorker::Start(info.Env(), "shears.fwdBlock", keep, [&be, spec, hidden, batch, seq, cap, has_kv, kv] {
      be.block(spec, hidden, batch, seq, cap, has_kv ? &kv : nullptr);
    });
  });
}

Napi::Value Nll(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    HeadSpec head = head_arg(info[0], keep);
    const int64_t rows = int_arg(info[2], "rows", 1, INT32_MAX);
    const float* hidden = f32_out(info[1], "hidden", static_cast<size_t>(rows * head.lm.cols), keep);
    const int32_t* targets = typed_array<int32_t>(info[3], "targets", static_cast<size_t>(rows)).data;
    keep.push_back(info[3]);
    float* out = f32_out(info[4], "out", static_cast<size_t>(rows), keep);
    ForwardBackend& be = backend_of(info, 5);
    auto total = std::make_shared<NllTotal>();
    return PromiseWorker::Start(
        info.Env(), "shears.fwdNll", keep, [&be, head, hidden, rows, targets, out, total] { *total = be.nll(head, hidden, rows, targets, out); },
        [total](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("sum", total->sum);
          r.Set("count", static_cast<double>(total->count));
          return r;
        });
  });
}

Napi::Value Logits(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    HeadSpec head = head_arg(info[0], keep);
    const int64_t rows = int_arg(info[2], "rows", 1, INT32_MAX);
    const float* hidden = f32_out(info[1], "hidden", static_cast<size_t>(rows * head.lm.cols), keep);
    float* out = f32_out(info[3], "out", static_cast<size_t>(rows * head.lm.rows), keep);
    ForwardBackend& be = backend_of(info, 4);
    return PromiseWorker::Start(info.Env(), "shears.fwdLogits", keep, [&be, head, hidden, rows, out] { be.logits(head, hidden, rows, out); });
  });
}

Napi::Value KlTop1Fn(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    const int64_t rows = int_arg(info[2], "rows", 1, INT32_MAX), vocab = int_arg(info[3], "vocab", 1, INT32_MAX);
    const size_t n = static_cast<size_t>(rows * vocab);
    const float* a = f32_out(info[0], "a", n, keep);
    const float* b = f32_out(info[1], "b", n, keep);
    double* kl = typed_array<double>(info[4], "kl", static_cast<size_t>(rows)).data;
    int32_t* ia = typed_array<int32_t>(info[5], "argA", static_cast<size_t>(rows)).data;
    int32_t* ib = typed_array<int32_t>(info[6], "argB", static_cast<size_t>(rows)).data;
    keep.push_back(info[4]);
    keep.push_back(info[5]);
    keep.push_back(info[6]);
    ForwardBackend& be = backend_of(info, 7);
    auto res = std::make_shared<KlTop1>();
    return PromiseWorker::Start(
        info.Env(), "shears.fwdKlTop1", keep, [&be, a, b, rows, vocab, kl, ia, ib, res] { *res = be.kl_top1(a, b, rows, vocab, kl, ia, ib); },
        [res](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("klMean", res->kl_mean);
          r.Set("top1Agreement", res->top1_agreement);
          return r;
        });
  });
}

Napi::Value Argmax(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Keep keep;
    const int64_t rows = int_arg(info[1], "rows", 1, INT32_MAX), cols = int_arg(info[2], "cols", 1, INT32_MAX);
    const float* x = f32_out(info[0], "x", static_cast<size_t>(rows * cols), keep);
    int32_t* out = typed_array<int32_t>(info[3], "out", static_cast<size_t>(rows)).data;
    keep.push_back(info[3]);
    ForwardBackend& be = backend_of(info, 4);
    return PromiseWorker::Start(info.Env(), "shears.fwdArgmax", keep, [&be, x, rows, cols, out] { be.argmax(x, rows, cols, out); });
  });
}

}  // namespace

SHEARS_REGISTER(forward) {
  export_function(env, exports, "fwdMatmul", Matmul, 6);
  export_function(env, exports, "fwdEmbed", Embed, 7);
  export_function(env, exports, "fwdBlock", Block, 6);
  export_function(env, exports, "fwdNll", Nll, 6);
  export_function(env, exports, "fwdLogits", Logits, 5);
  export_function(env, exports, "fwdArgmax", Argmax, 5);
  export_function(env, exports, "fwdKlTop1", KlTop1Fn, 8);
}

}  // namespace shears
