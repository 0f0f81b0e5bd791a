// Reading arguments from JavaScript: typed arrays are used in place (no copy), and
// every length and type is checked before native code touches the memory. The
// TypeScript layer checks first and raises its typed errors; these checks are the
// last line of defence and name the argument too.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "core/matrix_view.h"

namespace shears {

template <typename T>
struct TypedArrayTraits;
template <>
struct TypedArrayTraits<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedArrayTraits<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <>
struct TypedArrayTraits<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};
template <>
struct TypedArrayTraits<uint16_t> {
  static constexpr napi_typedarray_type type = napi_uint16_array;
  static constexpr const char* name = "Uint16Array";
};
template <>
struct TypedArrayTraits<uint32_t> {
  static constexpr napi_typedarray_type type = napi_uint32_array;
  static constexpr const char* name = "Uint32Array";
};
template <>
struct TypedArrayTraits<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};

// A typed array seen from native code: pointer to its first element and length.
template <typename T>
struct Span {
  T* data = nullptr;
  size_t size = 0;
};

// Typed array of element type T; expected_len == SIZE_MAX accepts any length.
template <typename T>
Span<T> typed_array(const Napi::Value& v, const char* what, size_t expected_len = SIZE_MAX) {
  if (!v.IsTypedArray()) fail(kDTypeError, std::string(what) + " must be a " + TypedArrayTraits<T>::name);
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != TypedArrayTraits<T>::type)
    fail(kDTypeError, std::string(what) + " must be a " + TypedArrayTraits<T>::name);
  size_t len = ta.ElementLength();
  if (expected_len != SIZE_MAX && len != expected_len)
    fail(kShapeError, std::string(what) + " has " + std::to_string(len) + " elements, expected " +
                          std::to_string(expected_len));
  auto* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data());
  Span<T> s;
  s.data = reinterpret_cast<T*>(base + ta.ByteOffset());
  s.size = len;
  return s;
}

inline DType parse_dtype(const Napi::Value& v, const char* what) {
  if (!v.IsString()) fail(kDTypeError, std::string(what) + " must be 'f32', 'f16' or 'bf16'");
  std::string s = v.As<Napi::String>();
  if (s == "f32") return DType::F32;
  if (s == "f16") return DType::F16;
  if (s == "bf16") return DType::BF16;
  fail(kDTypeError, std::string(what) + " must be 'f32', 'f16' or 'bf16', got '" + s + "'");
}

inline int64_t get_int(const Napi::Object& o, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(kRangeError, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    fail(kRangeError, std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "], got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

inline double get_double(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) fail(kRangeError, std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// {data, dtype, rows, cols}: data is a Float32Array for f32, a Uint16Array for f16/bf16.
inline MatrixView matrix_arg(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) fail(kShapeError, std::string(what) + " must be a matrix object {data, dtype, rows, cols}");
  auto o = v.As<Napi::Object>();
  MatrixView m;
  m.dtype = parse_dtype(o.Get("dtype"), (std::string(what) + ".dtype").c_str());
  m.rows = get_int(o, "rows", 1, INT32_MAX);
  m.cols = get_int(o, "cols", 1, INT32_MAX);
  std::string data_name = std::string(what) + ".data";
  if (m.dtype == DType::F32)
    m.data = typed_array<float>(o.Get("data"), data_name.c_str(), m.numel()).data;
  else
    m.data = typed_array<uint16_t>(o.Get("data"), data_name.c_str(), m.numel()).data;
  return m;
}

}  // namespace shears
