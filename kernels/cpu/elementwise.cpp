// CPU elementwise kernels: activations (forward/backward), bias add, binary ops, scale/axpy,
// fill, copy. The per-element math is kernels/math.h, shared with the CUDA kernels.
#include <cstring>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

template <typename T>
void activation_forward(T* y, const T* x, std::int64_t n, Activation act, T slope, Context&) {
  math::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
#pragma omp parallel for simd if (n >= kParallelElements)
    for (std::int64_t i = 0; i < n; ++i) y[i] = math::activation_forward<A>(x[i], slope);
  });
}

template <typename T>
void activation_backward(T* dx, const T* dy, const T* x, std::int64_t n, Activation act, T slope,
                         bool accumulate, Context&) {
  math::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    if (accumulate) {
#pragma omp parallel for simd if (n >= kParallelElements)
      for (std::int64_t i = 0; i < n; ++i) dx[i] += dy[i] * math::activation_derivative<A>(x[i], slope);
    } else {
#pragma omp parallel for simd if (n >= kParallelElements)
      for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * math::activation_derivative<A>(x[i], slope);
    }
  });
}

template <typename T>
void bias_add(T* y, const T* x, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols,
              bool shared_bias, Context&) {
  const std::int64_t total_rows = models * rows;
#pragma omp parallel for if (total_rows * cols >= kParallelElements)
  for (std::int64_t r = 0; r < total_rows; ++r) {
    const T* b = shared_bias ? bias : bias + (r / rows) * cols;
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
#pragma omp simd
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] + b[j];
  }
}

template <typename T>
void binary(T* z, const T* x, const T* y, std::int64_t n, BinaryOp op, Context&) {
  math::with_binary_op(op, [&](auto o) {
    constexpr BinaryOp Op = decltype(o)::value;
#pragma omp parallel for simd if (n >= kParallelElements)
    for (std::int64_t i = 0; i < n; ++i) z[i] = math::binary_apply<Op>(x[i], y[i]);
  });
}

template <typename T>
void scale_add(T* y, const T* x, std::int64_t models, std::int64_t per_model, T alpha, const T* alpha_k,
               bool accumulate, Context&) {
#pragma omp parallel for if (models * per_model >= kParallelElements && models > 1)
  for (std::int64_t k = 0; k < models; ++k) {
    const T a = alpha_k ? alpha * alpha_k[k] : alpha;
    const T* xk = x + k * per_model;
    T* yk = y + k * per_model;
    if (accumulate) {
#pragma omp simd
      for (std::int64_t i = 0; i < per_model; ++i) yk[i] += a * xk[i];
    } else {
#pragma omp simd
      for (std::int64_t i = 0; i < per_model; ++i) yk[i] = a * xk[i];
    }
  }
}

template <typename T>
void fill(T* y, std::int64_t n, T value, Context&) {
#pragma omp parallel for simd if (n >= kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) y[i] = value;
}

void copy_bytes(void* dst, const void* src, std::size_t bytes, Context&) {
  if (bytes) std::memmove(dst, src, bytes);
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_ELEMENTWISE)
GROOVE_FOR_ALL_TYPES(GROOVE_INSTANTIATE_FILL)

}  // namespace groove::cpu
