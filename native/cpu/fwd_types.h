// Descriptions the forward-pass kernels share: one transformer block's shape and
// weights, the final head, what a block reports to calibration. Weights are views
// of JavaScript-owned memory in their stored dtype.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/matrix_view.h"

namespace shears {

enum class NormKind : int { RMS = 0, Layer = 1 };
enum class ActKind : int { Silu = 0, Relu = 1, Gelu = 2, GeluTanh = 3 };
enum class RopeLayout : int { Interleaved = 0, RotateHalf = 1 };

struct RopeSpec {
  bool enabled = false;
  RopeLayout layout = RopeLayout::Interleaved;
  double theta = 10000.0;
  int64_t dim = 0;  // rotated dimensions per head (even, <= head_dim)
  bool llama3 = false;
  double factor = 1.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_context = 8192.0;
};

// A vector (norm weight, bias) in its stored dtype; data == nullptr: absent.
struct VecView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t n = 0;
  bool present() const { return data != nullptr; }
};

// A vector converted to float32 (empty when absent).
inline std::vector<float> vec_f32(const VecView& v) {
  std::vector<float> out;
  if (!v.present()) return out;
  out.resize(static_cast<size_t>(v.n));
  to_f32(v.data, v.dtype, 0, static_cast<size_t>(v.n), out.data());
  return out;
}

struct NormSpec {
  NormKind kind = NormKind::RMS;
  double eps = 1e-5;
  VecView weight, bias;
};

// heads == 0: the block has no attention sublayer (its norm and q/k/v/o are absent);
// intermediate == 0: no MLP sublayer. Structured pruning removes them; llama.cpp's deci
// architecture stores such blocks the same way.
struct BlockSpec {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0;
  bool has_attention() const { return heads > 0; }
  bool has_mlp() const { return intermediate > 0; }
  ActKind act = ActKind::Silu;
  bool pre_norm = true;
  RopeSpec rope;
  NormSpec attn_norm, mlp_norm;
  MatrixView q, k, v, o;
  VecView q_bias, k_bias, v_bias, o_bias;
  // gated (SwiGLU): down(act(gate(x)) * up(x)); else down(act(up(x))) with up = fc1, down = fc2.
  bool gated = true;
  MatrixView gate, up, down;
  VecView gate_bias, up_bias, down_bias;
};

// Where a block copies what each linear layer received (null: not wanted).
//   attn_in [T, hidden]: input of q/k/v   o_in [T, heads*head_dim]: input of o
//   mlp_in  [T, hidden]: input of gate/up or fc1   down_in [T, intermediate]: input of down or fc2
struct BlockCaptures {
  float* attn_in = nullptr;
  float* o_in = nullptr;
  float* mlp_in = nullptr;
  float* down_in = nullptr;
};

// A block's keys and values of earlier positions, [batch, capacity, kv_heads*head_dim]
// each (after RoPE). The block reads positions [0, start) and writes its new ones.
struct KvCache {
  float* k = nullptr;
  float* v = nullptr;
  int64_t capacity = 0;
  int64_t start = 0;
};

// Final norm (weight absent: none, as in post-norm OPT) and LM head [vocab, hidden].
struct HeadSpec {
  NormSpec norm;
  bool has_norm = false;
  MatrixView lm;
};

}  // namespace shears
