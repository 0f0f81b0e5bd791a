#include "bindings/forward_specs.h"

#include "bindings/js_args.h"
#include "bindings/parse_specs.h"

namespace shears {

bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

Napi::Object object_arg(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject()) fail(kShapeError, what + " must be an object");
  return v.As<Napi::Object>();
}

int64_t int_arg(const Napi::Value& v, const char* what, int64_t lo, int64_t hi) {
  Napi::Object o = Napi::Object::New(v.Env());
  o.Set(what, v);
  return get_int(o, what, lo, hi);
}

ForwardBackend& backend_of(const Napi::CallbackInfo& info, size_t i) {
  return forward_backend_by_name(backend_name(options_arg(info, i)));
}

MatrixView mat(const Napi::Value& v, const std::string& what, Keep& keep) {
  MatrixView m = matrix_arg(v, what.c_str());
  keep.push_back(v.As<Napi::Object>().Get("data"));
  return m;
}

// {data, dtype} of n elements, or absent.
VecView vec(const Napi::Value& v, const std::string& what, int64_t n, Keep& keep) {
  VecView out;
  if (absent(v)) return out;
  Napi::Object o = object_arg(v, what);
  out.dtype = parse_dtype(o.Get("dtype"), (what + ".dtype").c_str());
  const std::string dn = what + ".data";
  if (out.dtype == DType::F32)
    out.data = typed_array<float>(o.Get("data"), dn.c_str(), static_cast<size_t>(n)).data;
  else
    out.data = typed_array<uint16_t>(o.Get("data"), dn.c_str(), static_cast<size_t>(n)).data;
  out.n = n;
  keep.push_back(o.Get("data"));
  return out;
}

NormSpec norm_arg(const Napi::Value& v, const std::string& what, int64_t n, Keep& keep) {
  Napi::Object o = object_arg(v, what);
  NormSpec s;
  Napi::Value kind = o.Get("kind");
  std::string k = kind.IsString() ? std::string(kind.As<Napi::String>()) : std::string();
  if (k == "rmsnorm") s.kind = NormKind::RMS;
  else if (k == "layernorm") s.kind = NormKind::Layer;
  else fail(kRangeError, what + ".kind must be 'rmsnorm' or 'layernorm', got '" + k + "'");
  s.eps = get_double(o, "eps", 1e-5);
  if (!(s.eps > 0.0)) fail(kRangeError, what + ".eps must be > 0");
  s.weight = vec(o.Get("weight"), what + ".weight", n, keep);
  s.bias = vec(o.Get("bias"), what + ".bias", n, keep);
  return s;
}

namespace {

ActKind act_arg(const Napi::Value& v) {
  std::string a = v.IsString() ? std::string(v.As<Napi::String>()) : std::string();
  if (a == "silu") return ActKind::Silu;
  if (a == "relu") return ActKind::Relu;
  if (a == "gelu") return ActKind::Gelu;
  if (a == "gelu_tanh") return ActKind::GeluTanh;
  fail(kRangeError, "activation must be silu, relu, gelu or gelu_tanh, got '" + a + "'");
}

RopeSpec rope_arg(const Napi::Value& v) {
  RopeSpec r;
  if (absent(v)) return r;
  Napi::Object o = object_arg(v, "rope");
  r.enabled = true;
  Napi::Value l = o.Get("layout");
  std::string ls = l.IsString() ? std::string(l.As<Napi::String>()) : std::string();
  if (ls == "interleaved") r.layout = RopeLayout::Interleaved;
  else if (ls == "rotate_half") r.layout = RopeLayout::RotateHalf;
  else fail(kRangeError, "rope.layout must be 'interleaved' or 'rotate_half', got '" + ls + "'");
  r.theta = get_double(o, "theta", 10000.0);
  if (!(r.theta > 1.0)) fail(kRangeError, "rope.theta must be > 1");
  r.dim = get_int(o, "dim", 2, 1 << 20);
  Napi::Value sc = o.Get("scaling");
  if (!absent(sc)) {
    Napi::Object s = object_arg(sc, "rope.scaling");
    r.llama3 = true;
    r.factor = get_double(s, "factor", 8.0);
    r.low_freq_factor = get_double(s, "lowFreqFactor", 1.0);
    r.high_freq_factor = get_double(s, "highFreqFactor", 4.0);
    r.original_context = get_double(s, "originalContextLength", 8192.0);
    if (!(r.factor > 0.0) || !(r.high_freq_factor > r.low_freq_factor) || !(r.low_freq_factor > 0.0) ||
        !(r.original_context > 0.0))
      fail(kRangeError, "rope.scaling needs factor > 0, 0 < lowFreqFactor < highFreqFactor, originalContextLength > 0");
  }
  return r;
}

}  // namespace

BlockSpec block_arg(const Napi::Value& v, Keep& keep) {
  Napi::Object o = object_arg(v, "block spec");
  BlockSpec b;
  b.hidden = get_int(o, "hidden", 1, INT32_MAX);
  // 0 heads: no attention sublayer; intermediate 0: no MLP (see BlockSpec).
  b.heads = get_int(o, "heads", 0, INT32_MAX);
  b.kv_heads = get_int(o, "kvHeads", b.heads > 0 ? 1 : 0, INT32_MAX);
  b.head_dim = get_int(o, "headDim", 1, INT32_MAX);
  b.intermediate = get_int(o, "intermediate", 0, INT32_MAX);
  b.act = act_arg(o.Get("activation"));
  b.pre_norm = o.Get("preNorm").ToBoolean();
  b.rope = rope_arg(o.Get("rope"));
  if (b.has_attention()) {
    const int64_t qd = b.heads * b.head_dim, kd = b.kv_heads * b.head_dim;
    b.attn_norm = norm_arg(o.Get("attnNorm"), "attnNorm", b.hidden, keep);
    b.q = mat(o.Get("q"), "q", keep);
    b.k = mat(o.Get("k"), "k", keep);
    b.v = mat(o.Get("v"), "v", keep);
    b.o = mat(o.Get("o"), "o", keep);
    b.q_bias = vec(o.Get("qBias"), "qBias", qd, keep);
    b.k_bias = vec(o.Get("kBias"), "kBias", kd, keep);
    b.v_bias = vec(o.Get("vBias"), "vBias", kd, keep);
    b.o_bias = vec(o.Get("oBias"), "oBias", b.hidden, keep);
  }
  if (b.has_mlp()) {
    b.mlp_norm = norm_arg(o.Get("mlpNorm"), "mlpNorm", b.hidden, keep);
    b.gated = !absent(o.Get("gate"));
    if (b.gated) {
      b.gate = mat(o.Get("gate"), "gate", keep);
      b.gate_bias = vec(o.Get("gateBias"), "gateBias", b.intermediate, keep);
    }
    b.up = mat(o.Get("up"), "up", keep);
    b.down = mat(o.Get("down"), "down", keep);
    b.up_bias = vec(o.Get("upBias"), "upBias", b.intermediate, keep);
    b.down_bias = vec(o.Get("downBias"), "downBias", b.hidden, keep);
  }
  return b;
}

HeadSpec head_arg(const Napi::Value& v, Keep& keep) {
  Napi::Object o = object_arg(v, "head spec");
  HeadSpec h;
  h.lm = mat(o.Get("lm"), "lm", keep);
  if (!absent(o.Get("norm"))) {
    h.has_norm = true;
    h.norm = norm_arg(o.Get("norm"), "norm", h.lm.cols, keep);
  }
  return h;
}

float* f32_out(const Napi::Value& v, const char* what, size_t n, Keep& keep) {
  float* p = typed_array<float>(v, what, n).data;
  keep.push_back(v);
  return p;
}

const int32_t* cancel_arg(const Napi::Object& opts, const char* what, Keep& keep) {
  const Napi::Value v = opts.Get("cancel");
  if (absent(v)) return nullptr;
  const int32_t* p = typed_array<int32_t>(v, what, 1).data;
  keep.push_back(v);
  return p;
}

}  // namespace shears
