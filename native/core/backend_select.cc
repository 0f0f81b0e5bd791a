// Picking a backend by name. The CUDA backend exists only in builds made with
// SHEARS_CUDA=ON and only when a device answers.
#include <string>

#include "core/backend.h"
#include "core/error.h"

namespace shears {

#ifndef SHEARS_WITH_CUDA
Backend* cuda_backend() { return nullptr; }
std::string cuda_status() { return "not compiled (CPU-only build)"; }
#endif  // with CUDA both come from native/cuda/cuda_backend.cc

BackendKind resolve_backend(const std::string& name) {
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda" || name == "auto") {
    if (cuda_backend()) return BackendKind::Cuda;
    if (name == "auto") return BackendKind::Cpu;
    fail(kBackendError, "CUDA backend unavailable: " + cuda_status());
  }
  fail(kBackendError, "unknown backend '" + name + "' (expected auto, cpu or cuda)");
}

Backend& backend_by_name(const std::string& name) {
  return resolve_backend(name) == BackendKind::Cuda ? *cuda_backend() : cpu_backend();
}

}  // namespace shears
