// Element types of tensors: f32, f64, i32 (labels and indices).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace groove {

enum class DType : std::uint8_t { f32, f64, i32 };
inline constexpr int kNumDTypes = 3;

constexpr std::size_t dtype_size(DType t) {
  return t == DType::f64 ? 8 : 4;
}
constexpr const char* dtype_name(DType t) {
  return t == DType::f32 ? "f32" : t == DType::f64 ? "f64" : "i32";
}
constexpr bool is_floating(DType t) {
  return t != DType::i32;
}

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct dtype_of<std::int32_t> {
  static constexpr DType value = DType::i32;
};
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

// Parses "f32"/"float32", "f64"/"float64", "i32"/"int32"; throws groove::Error naming the text.
DType parse_dtype(const std::string& text);

}  // namespace groove

// One case of the dispatch macros below: binds `T` and calls the callable.
#define GROOVE_DISPATCH_CASE(tag, type, ...) \
  case ::groove::DType::tag: {               \
    using T = type;                          \
    return __VA_ARGS__();                    \
  }

// Runs the callable `__VA_ARGS__` with `T` bound to the C++ type of a floating dtype; throws for
// others, naming `what`.
#define GROOVE_DISPATCH_FLOAT(dtype, what, ...)                                                                 \
  [&] {                                                                                                         \
    switch (dtype) {                                                                                            \
      GROOVE_DISPATCH_CASE(f32, float, __VA_ARGS__)                                                             \
      GROOVE_DISPATCH_CASE(f64, double, __VA_ARGS__)                                                            \
      default:                                                                                                  \
        GROOVE_THROW(what, ": dtype ", ::groove::dtype_name(dtype), " is not supported (expected f32 or f64)"); \
    }                                                                                                           \
  }()

// Same, for every dtype (f32, f64, i32).
#define GROOVE_DISPATCH_ALL(dtype, what, ...)              \
  [&] {                                                    \
    switch (dtype) {                                       \
      GROOVE_DISPATCH_CASE(f32, float, __VA_ARGS__)        \
      GROOVE_DISPATCH_CASE(f64, double, __VA_ARGS__)       \
      GROOVE_DISPATCH_CASE(i32, std::int32_t, __VA_ARGS__) \
    }                                                      \
    GROOVE_THROW(what, ": unknown dtype");                 \
  }()
