// Parsing the forward pass's descriptions (block, head, norm, RoPE) from JavaScript
// objects: shared by the forward and backward bindings. Every value the native code
// will read is pushed to `keep` so the worker holds it for its whole run.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "cpu/fwd_backend.h"
#include "cpu/fwd_types.h"

namespace shears {

using Keep = std::vector<Napi::Value>;

bool absent(const Napi::Value& v);
Napi::Object object_arg(const Napi::Value& v, const std::string& what);
int64_t int_arg(const Napi::Value& v, const char* what, int64_t lo, int64_t hi);
// The forward backend named by the `backend` option of argument i.
ForwardBackend& backend_of(const Napi::CallbackInfo& info, size_t i);
MatrixView mat(const Napi::Value& v, const std::string& what, Keep& keep);
// {data, dtype} of n elements, or absent.
VecView vec(const Napi::Value& v, const std::string& what, int64_t n, Keep& keep);
NormSpec norm_arg(const Napi::Value& v, const std::string& what, int64_t n, Keep& keep);
BlockSpec block_arg(const Napi::Value& v, Keep& keep);
HeadSpec head_arg(const Napi::Value& v, Keep& keep);
// A Float32Array of exactly n elements.
float* f32_out(const Napi::Value& v, const char* what, size_t n, Keep& keep);
// opts.cancel: absent (null), or an Int32Array of one element that stops the work when
// set non-zero (polled between blocks or steps).
const int32_t* cancel_arg(const Napi::Object& opts, const char* what, Keep& keep);

}  // namespace shears
