// Per-element math shared by the CPU and CUDA backends (GROOVE_HD): activations and their
// derivatives, binary ops, and the reducers. The CPU tests of these functions therefore also
// cover the arithmetic of the CUDA kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "runtime/hostdevice.h"

namespace groove {

enum class Activation : std::uint8_t { identity, relu, leaky_relu, tanh, sigmoid, gelu, quadratic };
inline constexpr int kNumActivations = 7;
inline constexpr const char* kActivationNames[kNumActivations] = {"identity", "relu", "leaky_relu", "tanh",
                                                                  "sigmoid",  "gelu", "quadratic"};
static_assert(static_cast<int>(Activation::quadratic) + 1 == kNumActivations, "update kActivationNames");

enum class BinaryOp : std::uint8_t { add, sub, mul };
inline constexpr int kNumBinaryOps = 3;
inline constexpr const char* kBinaryOpNames[kNumBinaryOps] = {"add", "sub", "mul"};
static_assert(static_cast<int>(BinaryOp::mul) + 1 == kNumBinaryOps, "update kBinaryOpNames");

enum class ReduceOp : std::uint8_t { sum, mean, max, l2norm };
inline constexpr int kNumReduceOps = 4;
inline constexpr const char* kReduceOpNames[kNumReduceOps] = {"sum", "mean", "max", "l2norm"};
static_assert(static_cast<int>(ReduceOp::l2norm) + 1 == kNumReduceOps, "update kReduceOpNames");

namespace math {

// float/double overloads that resolve to the same libm names on the host and the device.
GROOVE_HD inline float exp_(float x) {
  return expf(x);
}
GROOVE_HD inline double exp_(double x) {
  return exp(x);
}
GROOVE_HD inline float cosh_(float x) {
  return coshf(x);
}
GROOVE_HD inline double cosh_(double x) {
  return cosh(x);
}
GROOVE_HD inline float tanh_(float x) {
  return tanhf(x);
}
GROOVE_HD inline double tanh_(double x) {
  return tanh(x);
}
GROOVE_HD inline float erf_(float x) {
  return erff(x);
}
GROOVE_HD inline double erf_(double x) {
  return erf(x);
}
GROOVE_HD inline float sqrt_(float x) {
  return sqrtf(x);
}
GROOVE_HD inline double sqrt_(double x) {
  return sqrt(x);
}
GROOVE_HD inline bool isnan_(float x) {
  return x != x;
}
GROOVE_HD inline bool isnan_(double x) {
  return x != x;
}

// Logistic sigmoid without overflow for either sign.
template <typename T>
GROOVE_HD inline T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp_(-x));
  const T z = exp_(x);
  return z / (T(1) + z);
}

template <typename T>
GROOVE_HD inline T std_normal_cdf(T x) {
  return T(0.5) * (T(1) + erf_(x * T(0.70710678118654752440)));
}

template <typename T>
GROOVE_HD inline T std_normal_pdf(T x) {
  return T(0.39894228040143267794) * exp_(T(-0.5) * x * x);
}

// phi(x). `slope` is the negative-side slope of leaky_relu (ignored by the others).
template <Activation A, typename T>
GROOVE_HD inline T activation_forward(T x, T slope) {
  if constexpr (A == Activation::identity) {
    return x;
  } else if constexpr (A == Activation::relu) {
    return x > T(0) ? x : T(0);
  } else if constexpr (A == Activation::leaky_relu) {
    return x > T(0) ? x : slope * x;
  } else if constexpr (A == Activation::tanh) {
    return tanh_(x);
  } else if constexpr (A == Activation::sigmoid) {
    return sigmoid(x);
  } else if constexpr (A == Activation::gelu) {
    return x * std_normal_cdf(x);  // exact GELU (erf form), as torch.nn.GELU()
  } else {
    return x * x;
  }
}

// phi'(x), written so that it stays accurate where phi saturates (no 1 - phi(x)^2 cancellation).
// At the kink of relu / leaky_relu the derivative is taken from the left (0 / slope), as PyTorch.
template <Activation A, typename T>
GROOVE_HD inline T activation_derivative(T x, T slope) {
  if constexpr (A == Activation::identity) {
    return T(1);
  } else if constexpr (A == Activation::relu) {
    return x > T(0) ? T(1) : T(0);
  } else if constexpr (A == Activation::leaky_relu) {
    return x > T(0) ? T(1) : slope;
  } else if constexpr (A == Activation::tanh) {
    const T c = cosh_(x);  // sech^2 x; cosh overflows to inf for large |x|, giving the right limit 0
    return T(1) / (c * c);
  } else if constexpr (A == Activation::sigmoid) {
    return sigmoid(x) * sigmoid(-x);
  } else if constexpr (A == Activation::gelu) {
    return std_normal_cdf(x) + x * std_normal_pdf(x);
  } else {
    return T(2) * x;
  }
}

// Whether phi'(x) can be read off phi(x) exactly, so a fused dense layer (linear + activation)
// keeps only its output: identity, relu, and leaky_relu with a positive slope (y > 0 iff x > 0).
// Not tanh / sigmoid (1 - y^2 and y (1 - y) cancel where they saturate) nor gelu / quadratic.
GROOVE_HD inline bool activation_derivative_from_output_exact(Activation a, double slope) {
  return a == Activation::identity || a == Activation::relu || (a == Activation::leaky_relu && slope > 0);
}

// phi'(x) from y = phi(x), for the activations above (equal to activation_derivative<A>(x), the
// kink included: y > 0 exactly when x > 0).
template <Activation A, typename T>
GROOVE_HD inline T activation_derivative_from_output(T y, T slope) {
  static_assert(A == Activation::identity || A == Activation::relu || A == Activation::leaky_relu,
                "phi'(x) is not exact from phi(x) for this activation");
  if constexpr (A == Activation::identity) {
    return T(1);
  } else if constexpr (A == Activation::relu) {
    return y > T(0) ? T(1) : T(0);
  } else {
    return y > T(0) ? T(1) : slope;
  }
}

// Calls f(std::integral_constant<Activation, A>{}) for the output-derivable activations only.
template <typename F>
inline decltype(auto) with_output_derivable_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::identity:
      return f(std::integral_constant<Activation, Activation::identity>{});
    case Activation::relu:
      return f(std::integral_constant<Activation, Activation::relu>{});
    default:
      break;
  }
  return f(std::integral_constant<Activation, Activation::leaky_relu>{});
}

// Calls f(std::integral_constant<Activation, A>{}) for the runtime value `a`, so kernels are
// instantiated once per activation instead of branching per element.
template <typename F>
inline decltype(auto) with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::identity:
      return f(std::integral_constant<Activation, Activation::identity>{});
    case Activation::relu:
      return f(std::integral_constant<Activation, Activation::relu>{});
    case Activation::leaky_relu:
      return f(std::integral_constant<Activation, Activation::leaky_relu>{});
    case Activation::tanh:
      return f(std::integral_constant<Activation, Activation::tanh>{});
    case Activation::sigmoid:
      return f(std::integral_constant<Activation, Activation::sigmoid>{});
    case Activation::gelu:
      return f(std::integral_constant<Activation, Activation::gelu>{});
    case Activation::quadratic:
      break;
  }
  return f(std::integral_constant<Activation, Activation::quadratic>{});
}

template <BinaryOp Op, typename T>
GROOVE_HD inline T binary_apply(T x, T y) {
  if constexpr (Op == BinaryOp::add) {
    return x + y;
  } else if constexpr (Op == BinaryOp::sub) {
    return x - y;
  } else {
    return x * y;
  }
}

template <typename F>
inline decltype(auto) with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add:
      return f(std::integral_constant<BinaryOp, BinaryOp::add>{});
    case BinaryOp::sub:
      return f(std::integral_constant<BinaryOp, BinaryOp::sub>{});
    case BinaryOp::mul:
      break;
  }
  return f(std::integral_constant<BinaryOp, BinaryOp::mul>{});
}

// Max that propagates NaN (as numpy.max): if either is NaN the result is NaN.
template <typename T>
GROOVE_HD inline T nan_max(T a, T b) {
  return (isnan_(a) || a > b) ? a : b;
}

// Reducers over one axis: init / step (one element) / combine (two partials) / finish. The
// combine is associative, so a fixed tree of combines is deterministic. Sums accumulate in double.
template <ReduceOp Op, typename T>
struct Reducer {
  using Acc = double;
  static GROOVE_HD Acc init() { return 0.0; }
  static GROOVE_HD Acc step(Acc acc, T x) {
    if constexpr (Op == ReduceOp::l2norm) {
      return acc + static_cast<double>(x) * static_cast<double>(x);
    } else {
      return acc + static_cast<double>(x);
    }
  }
  static GROOVE_HD Acc combine(Acc a, Acc b) { return a + b; }
  static GROOVE_HD T finish(Acc acc, std::int64_t n) {
    if constexpr (Op == ReduceOp::mean) {
      return static_cast<T>(acc / static_cast<double>(n));
    } else if constexpr (Op == ReduceOp::l2norm) {
      return static_cast<T>(sqrt(acc));
    } else {
      return static_cast<T>(acc);
    }
  }
};

template <typename T>
struct Reducer<ReduceOp::max, T> {
  using Acc = T;
  static GROOVE_HD Acc init() { return -std::numeric_limits<T>::infinity(); }
  static GROOVE_HD Acc step(Acc acc, T x) { return nan_max(acc, x); }
  static GROOVE_HD Acc combine(Acc a, Acc b) { return nan_max(a, b); }
  static GROOVE_HD T finish(Acc acc, std::int64_t) { return acc; }
};

template <typename F>
inline decltype(auto) with_reduce_op(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::sum:
      return f(std::integral_constant<ReduceOp, ReduceOp::sum>{});
    case ReduceOp::mean:
      return f(std::integral_constant<ReduceOp, ReduceOp::mean>{});
    case ReduceOp::max:
      return f(std::integral_constant<ReduceOp, ReduceOp::max>{});
    case ReduceOp::l2norm:
      break;
  }
  return f(std::integral_constant<ReduceOp, ReduceOp::l2norm>{});
}

// Argmax partial: value and index. Preference order (total, so any combine tree gives the same
// answer): NaN over numbers (first NaN wins, as numpy.argmax), larger value, then smaller index.
template <typename T>
struct ArgmaxAcc {
  T value;
  std::int64_t index;
};

template <typename T>
GROOVE_HD inline ArgmaxAcc<T> argmax_init() {
  return {-std::numeric_limits<T>::infinity(), std::numeric_limits<std::int64_t>::max()};
}

template <typename T>
GROOVE_HD inline ArgmaxAcc<T> argmax_combine(ArgmaxAcc<T> a, ArgmaxAcc<T> b) {
  const bool a_nan = isnan_(a.value), b_nan = isnan_(b.value);
  if (a_nan != b_nan) return a_nan ? a : b;
  if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
  return a.index <= b.index ? a : b;
}

}  // namespace math
}  // namespace groove
