// CPU elementwise kernels: activations (forward/backward), bias add, binary ops, scale/axpy,
// fill, copy. The per-element math is kernels/math.h, shared with the CUDA kernels.
#include <cstring>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

template <typename T>
void activation_forward(T* y, const T* x, std::int64_t n, Activation act, T slope, Context&) {
  math::with_activation(act, [=](auto a) {
    constexpr Activation A = decltype(a)::value;
    parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) y[i] = math::activation_forward<A>(x[i], slope);
    });
  });
}

template <typename T>
void activation_backward(T* dx, const T* dy, const T* x, std::int64_t n, Activation act, T slope, bool accumulate,
                         Context&) {
  math::with_activation(act, [=](auto a) {
    constexpr Activation A = decltype(a)::value;
    parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
      if (accumulate) {
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) dx[i] += dy[i] * math::activation_derivative<A>(x[i], slope);
      } else {
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) dx[i] = dy[i] * math::activation_derivative<A>(x[i], slope);
      }
    });
  });
}

template <typename T>
void bias_add(T* y, const T* x, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols,
              bool shared_bias, Context&) {
  // Chunks of whole rows, so the inner loop is a plain vector add.
  parallel_chunks(
      models * rows,
      [=](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const T* b = shared_bias ? bias : bias + (r / rows) * cols;
          const T* xr = x + r * cols;
          T* yr = y + r * cols;
#pragma omp simd
          for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] + b[j];
        }
      },
      cols);
}

template <typename T>
void binary(T* z, const T* x, const T* y, std::int64_t n, BinaryOp op, Context&) {
  math::with_binary_op(op, [=](auto o) {
    constexpr BinaryOp Op = decltype(o)::value;
    parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) z[i] = math::binary_apply<Op>(x[i], y[i]);
    });
  });
}

template <typename T>
void scale_add(T* y, const T* x, std::int64_t models, std::int64_t per_model, T alpha, const T* alpha_k,
               bool accumulate, Context&) {
  for (std::int64_t k = 0; k < models; ++k) {
    const T a = alpha_k ? alpha * alpha_k[k] : alpha;
    T* yk = y + k * per_model;
    const T* xk = x + k * per_model;
    parallel_chunks(per_model, [=](std::int64_t begin, std::int64_t end) {
      if (accumulate) {
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) yk[i] += a * xk[i];
      } else {
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) yk[i] = a * xk[i];
      }
    });
  }
}

template <typename T>
void fill(T* y, std::int64_t n, T value, Context&) {
  parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) y[i] = value;
  });
}

void copy_bytes(void* dst, const void* src, std::size_t bytes, Context&) {
  if (bytes) std::memmove(dst, src, bytes);
}

template <typename To, typename From>
void convert(To* dst, const From* src, std::int64_t n, Context&) {
  parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) dst[i] = static_cast<To>(src[i]);
  });
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_ELEMENTWISE)
GROOVE_INSTANTIATE_CONVERT
GROOVE_FOR_ALL_TYPES(GROOVE_INSTANTIATE_FILL)

}  // namespace groove::cpu
