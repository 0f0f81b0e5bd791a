#include "cpu/fwd_backend.h"

#include "core/backend.h"
#include "cpu/fwd_block.h"
#include "cpu/matmul.h"

namespace shears {

namespace {

class CpuForward final : public ForwardBackend {
 public:
  const char* name() const override { return "cpu"; }
  void matmul(const float* x, int64_t n, const MatrixView& w, const float* bias, float* y) override {
    shears::matmul(x, n, w, bias, y);
  }
  void embed(const int32_t* tokens, int64_t n, int64_t seq, int64_t start, const MatrixView& table,
             const MatrixView* pos, int64_t pos_offset, float* out) override {
    embed_tokens(tokens, n, seq, start, table, pos, pos_offset, out);
  }
  void block(const BlockSpec& spec, float* hidden, int64_t batch, int64_t seq, const BlockCaptures& cap,
             const KvCache* kv) override {
    run_block(spec, hidden, batch, seq, cap, kv);
  }
  NllTotal nll(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out) override {
    return nll_rows(head, hidden, rows, targets, out);
  }
  void logits(const HeadSpec& head, const float* hidden, int64_t rows, float* out) override {
    logits_rows(head, hidden, rows, out);
  }
  void argmax(const float* x, int64_t rows, int64_t cols, int32_t* out) override { argmax_rows(x, rows, cols, out); }
  KlTop1 kl_top1(const float* a, const float* b, int64_t rows, int64_t vocab, double* kl, int32_t* arg_a,
                 int32_t* arg_b) override {
    return shears::kl_top1(a, b, rows, vocab, kl, arg_a, arg_b);
  }
  NllTotal model_backward(const ModelSpec& m, const ModelGrads& g, const int32_t* tokens, int64_t batch, int64_t seq,
                          const int32_t* cancel, size_t keep_bytes, const float* teacher) override {
    return shears::model_backward(m, g, tokens, batch, seq, cancel, keep_bytes, teacher);
  }
};

}  // namespace

ForwardBackend& cpu_forward_backend() {
  static CpuForward b;
  return b;
}

ForwardBackend& forward_backend_by_name(const std::string& name) {
  // The same choice as the kernels' (resolve_backend: an unavailable "cuda" or an
  // unknown name is E_BACKEND). No device forward pass exists yet, so a CUDA choice
  // runs the forward pass on the CPU, like SparseGPT's ops in the CUDA backend.
  (void)resolve_backend(name);
  return cpu_forward_backend();
}

}  // namespace shears
