// CPU elementwise kernels: activations (forward/backward), bias add, binary ops, scale/axpy,
// fill, copy. The per-element math is kernels/math.h, shared with the CUDA kernels.
#include <algorithm>
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
void bias_activation(T* y, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols, bool shared_bias,
                     Activation act, T slope, Context&) {
  math::with_activation(act, [=](auto a) {
    constexpr Activation A = decltype(a)::value;
    parallel_chunks(
        models * rows,
        [=](std::int64_t begin, std::int64_t end) {
          for (std::int64_t r = begin; r < end; ++r) {
            T* yr = y + r * cols;
            if (bias) {
              const T* b = shared_bias ? bias : bias + (r / rows) * cols;
#pragma omp simd
              for (std::int64_t j = 0; j < cols; ++j) yr[j] = math::activation_forward<A>(yr[j] + b[j], slope);
            } else {
#pragma omp simd
              for (std::int64_t j = 0; j < cols; ++j) yr[j] = math::activation_forward<A>(yr[j], slope);
            }
          }
        },
        cols);
  });
}

// One task per (model, block of columns): the task walks the rows in order, writing dz; each column
// is summed in T over groups of kRowGroup rows (a vector add per row) and the group sums are
// added in double. A column's sum has the same order whatever the block width, K and the thread
// count are (batch-invariant). Blocks are as wide as possible (rows streamed whole: narrow blocks
// walk a new page every row, defeating the prefetcher), narrower only to give every thread work.
template <typename T>
void activation_backward_from_output(T* dz, T* dbias, const T* dy, const T* y, std::int64_t models, std::int64_t rows,
                                     std::int64_t cols, Activation act, T slope, bool accumulate_dz,
                                     bool accumulate_dbias, Context&) {
  constexpr std::int64_t kColumnBlock = 2048;  // the most: the task's sums live on its stack
  constexpr std::int64_t kRowGroup = 16;
  std::int64_t width = std::min(cols, kColumnBlock);
  const std::int64_t threads = omp_get_max_threads();
  if (models < threads && cols > 64) {  // few models: split the columns among the threads
    width = std::min(width, std::max<std::int64_t>(64, (cols * models / threads + 15) / 16 * 16));
  }
  width = std::max<std::int64_t>(width, 1);
  const std::int64_t blocks = (cols + width - 1) / width;
  const std::int64_t tasks = models * blocks;
  math::with_output_derivable_activation(act, [=](auto a) {
    constexpr Activation A = decltype(a)::value;
    const auto task = [=](std::int64_t t) {
      const std::int64_t k = t / blocks, j0 = (t % blocks) * width;
      const std::int64_t w = std::min(width, cols - j0);
      double sum[kColumnBlock];
      T part[kColumnBlock];
      for (std::int64_t j = 0; j < w; ++j) sum[j] = 0;
      for (std::int64_t r0 = 0; r0 < rows; r0 += kRowGroup) {
        for (std::int64_t j = 0; j < w; ++j) part[j] = T(0);
        const std::int64_t r1 = std::min(rows, r0 + kRowGroup);
        for (std::int64_t r = r0; r < r1; ++r) {
          const std::int64_t off = (k * rows + r) * cols + j0;
          const T* dyr = dy + off;
          const T* yr = y + off;
          T* dzr = dz + off;
          if (accumulate_dz) {
#pragma omp simd
            for (std::int64_t j = 0; j < w; ++j) {
              const T g = dyr[j] * math::activation_derivative_from_output<A>(yr[j], slope);
              dzr[j] += g;
              part[j] += g;
            }
          } else {
#pragma omp simd
            for (std::int64_t j = 0; j < w; ++j) {
              const T g = dyr[j] * math::activation_derivative_from_output<A>(yr[j], slope);
              dzr[j] = g;
              part[j] += g;
            }
          }
        }
#pragma omp simd
        for (std::int64_t j = 0; j < w; ++j) sum[j] += static_cast<double>(part[j]);
      }
      if (dbias) {
        T* db = dbias + k * cols + j0;
        for (std::int64_t j = 0; j < w; ++j)
          db[j] = static_cast<T>(accumulate_dbias ? static_cast<double>(db[j]) + sum[j] : sum[j]);
      }
    };
    if (tasks < 2 || models * rows * cols < kParallelElements || threads == 1) {
      for (std::int64_t t = 0; t < tasks; ++t) task(t);
    } else {
#pragma omp parallel for schedule(static)
      for (std::int64_t t = 0; t < tasks; ++t) task(t);
    }
  });
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
