// The forward-pass backend seam. The CPU implementation (fwd_backend.cc over the
// fwd_* kernels and matmul) is the oracle; a CUDA implementation can be added next to
// it and returned by forward_backend_by_name for a CUDA choice without touching the
// bindings.
// All pointers are host memory owned by the caller.
#pragma once
#include <cstdint>
#include <string>

#include "cpu/bwd_model.h"
#include "cpu/fwd_head.h"
#include "cpu/fwd_types.h"

namespace shears {

class ForwardBackend {
 public:
  virtual ~ForwardBackend() = default;
  virtual const char* name() const = 0;
  virtual void matmul(const float* x, int64_t n, const MatrixView& w, const float* bias, float* y) = 0;
  virtual void embed(const int32_t* tokens, int64_t n, int64_t seq, int64_t start, const MatrixView& table,
                     const MatrixView* pos, int64_t pos_offset, float* out) = 0;
  // kv: null without a KV cache.
  virtual void block(const BlockSpec& spec, float* hidden, int64_t batch, int64_t seq, const BlockCaptures& cap,
                     const KvCache* kv) = 0;
  virtual NllTotal nll(const HeadSpec& head, const float* hidden, int64_t rows, const int32_t* targets, float* out) = 0;
  virtual void logits(const HeadSpec& head, const float* hidden, int64_t rows, float* out) = 0;
  virtual void argmax(const float* x, int64_t rows, int64_t cols, int32_t* out) = 0;
  virtual KlTop1 kl_top1(const float* a, const float* b, int64_t rows, int64_t vocab, double* kl, int32_t* arg_a,
                         int32_t* arg_b) = 0;
  // Whole-model next-token loss and gradients (cpu/bwd_model.h).
  // teacher: null for the next-token NLL, or batch*seq x vocab logits to distil from.
  virtual NllTotal model_backward(const ModelSpec& m, const ModelGrads& g, const int32_t* tokens, int64_t batch,
                                  int64_t seq, const int32_t* cancel, size_t keep_bytes, const float* teacher) = 0;
};

ForwardBackend& cpu_forward_backend();
// Resolves the name like the kernels do (core/backend.h resolve_backend: "cuda"
// without a device, or an unknown name, throws E_BACKEND) and returns the CPU forward
// pass (and its backward) for either choice until a device forward pass exists.
ForwardBackend& forward_backend_by_name(const std::string& name);

}  // namespace shears
