// Errors raised by native code. `code` travels to JavaScript as error.code so the
// TypeScript layer can turn it into its typed error classes (instanceof does not
// work across jest realms, codes do).
#pragma once
#include <stdexcept>
#include <string>

namespace shears {

struct Error : std::runtime_error {
  std::string code;
  Error(std::string c, const std::string& msg) : std::runtime_error(msg), code(std::move(c)) {}
};

// Codes shared with lib/errors.ts.
inline constexpr const char* kShapeError = "E_SHAPE";
inline constexpr const char* kDTypeError = "E_DTYPE";
inline constexpr const char* kRangeError = "E_RANGE";
inline constexpr const char* kNonFinite = "E_NONFINITE";
inline constexpr const char* kIOError = "E_IO";
inline constexpr const char* kFormatError = "E_FORMAT";
inline constexpr const char* kBackendError = "E_BACKEND";
inline constexpr const char* kInternal = "E_INTERNAL";

[[noreturn]] inline void fail(const char* code, const std::string& msg) { throw Error(code, msg); }

}  // namespace shears
