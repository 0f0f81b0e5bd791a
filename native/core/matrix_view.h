// A weight matrix as the compute code sees it: row-major, in its storage dtype, in
// memory someone else owns (a JavaScript typed array, a file mapping, a test buffer).
// No N-API here: native/core, native/cpu and native/cuda build without Node headers.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace shears {

struct MatrixView {
  void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  size_t numel() const { return static_cast<size_t>(rows) * static_cast<size_t>(cols); }
};

}  // namespace shears
