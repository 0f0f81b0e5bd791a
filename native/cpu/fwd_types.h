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

// Which weight matrix of a block a linear layer is (Up is fc1 and Down fc2 in an ungated MLP).
enum class BlockLinear : int { Q = 0, K, V, O, Gate, Up, Down };
inline constexpr int kBlockLinears = 7;

// An optional seam around a block's linear layers (BlockSpec::seam; null: the dense block).
// run_block calls after_forward once a linear layer has computed y = x W^T + b, and
// block_backward calls after_backward once the linear's backward has written its weight
// gradient and dx. Sparse variational dropout (cpu/vd_block.h) adds its local
// reparameterization noise here, so one forward and one backward serve the dense and the
// variational block instead of a second copy of norms, RoPE, attention and MLP; the dense
// block pays one null check per linear layer and keeps its bits.
struct LinearSeam {
  virtual ~LinearSeam() = default;
  // x [n, in] the layer's input, y [n, out] its output (may be changed in place).
  virtual void after_forward(BlockLinear which, const float* x, int64_t n, float* y) = 0;
  // dy [n, out] the gradient of the layer's output; dx [n, in] that of its input (add to it).
  virtual void after_backward(BlockLinear which, const float* x, int64_t n, const float* dy, float* dx) = 0;
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
  // Not owned; null: the dense block (see LinearSeam). CPU forward and backward only.
  LinearSeam* seam = nullptr;
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
