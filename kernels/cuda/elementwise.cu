// CUDA elementwise kernels: activations (forward/backward), bias add, binary ops, scale/axpy,
// fill, copy. CPU twins: kernels/cpu/elementwise.cpp; shared math: kernels/math.h.
#include <algorithm>

#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

// kernels ------------------------------------------------------------------------------------
// y may alias x (in-place ops), so these pointers are not __restrict__.
namespace {

template <Activation A, typename T>
__global__ void activation_forward_kernel(T* y, const T* x, std::int64_t n, T slope) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) y[i] = math::activation_forward<A>(x[i], slope);
}

template <Activation A, bool Accumulate, typename T>
__global__ void activation_backward_kernel(T* dx, const T* dy, const T* x, std::int64_t n, T slope) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    const T g = dy[i] * math::activation_derivative<A>(x[i], slope);
    dx[i] = Accumulate ? dx[i] + g : g;
  }
}

template <typename T>
__global__ void bias_add_kernel(T* y, const T* x, const T* __restrict__ bias, std::int64_t n, std::int64_t rows,
                                std::int64_t cols, bool shared_bias) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    const std::int64_t col = i % cols;
    const std::int64_t model = i / (rows * cols);
    y[i] = x[i] + bias[shared_bias ? col : model * cols + col];
  }
}

template <Activation A, typename T>
__global__ void bias_activation_kernel(T* y, const T* __restrict__ bias, std::int64_t n, std::int64_t rows,
                                       std::int64_t cols, bool shared_bias, T slope) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    const std::int64_t col = i % cols;
    const std::int64_t model = i / (rows * cols);
    const T b = bias ? bias[shared_bias ? col : model * cols + col] : T(0);
    y[i] = math::activation_forward<A>(bias ? y[i] + b : y[i], slope);
  }
}

// Block (kDzCols columns x kDzRowGroups row groups) per (column tile, model): thread (tx, ty)
// walks rows ty, ty + kDzRowGroups, ... of its column, writing dz and summing in double; the
// row groups' sums are added in a fixed order (deterministic, independent of K).
constexpr int kDzCols = 32;
constexpr int kDzRowGroups = 8;

template <Activation A, bool AccumulateDz, typename T>
__global__ void __launch_bounds__(kDzCols* kDzRowGroups)
    activation_backward_from_output_kernel(T* dz, T* __restrict__ dbias, const T* dy, const T* __restrict__ y,
                                           std::int64_t models, std::int64_t rows, std::int64_t cols, T slope,
                                           bool accumulate_dbias) {
  __shared__ double partial[kDzRowGroups][kDzCols];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kDzCols + tx;
  for (std::int64_t k = blockIdx.y; k < models; k += gridDim.y) {
    double sum = 0;
    if (col < cols) {
      for (std::int64_t r = ty; r < rows; r += kDzRowGroups) {
        const std::int64_t i = (k * rows + r) * cols + col;
        const T g = dy[i] * math::activation_derivative_from_output<A>(y[i], slope);
        dz[i] = AccumulateDz ? dz[i] + g : g;
        sum += static_cast<double>(g);
      }
    }
    partial[ty][tx] = sum;
    __syncthreads();
    if (ty == 0 && col < cols && dbias) {
      double s = 0;
      for (int g = 0; g < kDzRowGroups; ++g) s += partial[g][tx];
      T* db = dbias + k * cols + col;
      *db = static_cast<T>(accumulate_dbias ? static_cast<double>(*db) + s : s);
    }
    __syncthreads();
  }
}

template <BinaryOp Op, typename T>
__global__ void binary_kernel(T* z, const T* x, const T* y, std::int64_t n) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) z[i] = math::binary_apply<Op>(x[i], y[i]);
}

template <bool Accumulate, typename T>
__global__ void scale_add_kernel(T* y, const T* x, std::int64_t n, std::int64_t per_model, T alpha,
                                 const T* __restrict__ alpha_k) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    const T a = alpha_k ? alpha * alpha_k[i / per_model] : alpha;
    y[i] = Accumulate ? y[i] + a * x[i] : a * x[i];
  }
}

template <typename T>
__global__ void fill_kernel(T* __restrict__ y, std::int64_t n, T value) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) y[i] = value;
}

template <typename To, typename From>
__global__ void convert_kernel(To* __restrict__ dst, const From* __restrict__ src, std::int64_t n) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) dst[i] = static_cast<To>(src[i]);
}

}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void activation_forward(T* y, const T* x, std::int64_t n, Activation act, T slope, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  math::with_activation(act, [&](auto a) {
    activation_forward_kernel<decltype(a)::value, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(y, x, n, slope);
  });
  GROOVE_LAUNCH_CHECK(stream, "activation_forward_kernel");
}

template <typename T>
void activation_backward(T* dx, const T* dy, const T* x, std::int64_t n, Activation act, T slope, bool accumulate,
                         Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  math::with_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    if (accumulate) {
      activation_backward_kernel<A, true, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(dx, dy, x, n, slope);
    } else {
      activation_backward_kernel<A, false, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(dx, dy, x, n, slope);
    }
  });
  GROOVE_LAUNCH_CHECK(stream, "activation_backward_kernel");
}

template <typename T>
void bias_add(T* y, const T* x, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols,
              bool shared_bias, Context& ctx) {
  const std::int64_t n = models * rows * cols;
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  bias_add_kernel<T><<<grid_for(n, ctx), kBlock, 0, stream>>>(y, x, bias, n, rows, cols, shared_bias);
  GROOVE_LAUNCH_CHECK(stream, "bias_add_kernel");
}

template <typename T>
void bias_activation(T* y, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols, bool shared_bias,
                     Activation act, T slope, Context& ctx) {
  const std::int64_t n = models * rows * cols;
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  math::with_activation(act, [&](auto a) {
    bias_activation_kernel<decltype(a)::value, T>
        <<<grid_for(n, ctx), kBlock, 0, stream>>>(y, bias, n, rows, cols, shared_bias, slope);
  });
  GROOVE_LAUNCH_CHECK(stream, "bias_activation_kernel");
}

template <typename T>
void activation_backward_from_output(T* dz, T* dbias, const T* dy, const T* y, std::int64_t models, std::int64_t rows,
                                     std::int64_t cols, Activation act, T slope, bool accumulate_dz,
                                     bool accumulate_dbias, Context& ctx) {
  if (models * rows * cols == 0 && !dbias) return;
  const cudaStream_t stream = cuda_stream(ctx);
  const dim3 block(kDzCols, kDzRowGroups);
  const dim3 grid(static_cast<unsigned>((cols + kDzCols - 1) / kDzCols),
                  static_cast<unsigned>(std::min<std::int64_t>(models, 65535)));
  if (grid.x == 0 || grid.y == 0) return;
  math::with_output_derivable_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    if (accumulate_dz) {
      activation_backward_from_output_kernel<A, true, T>
          <<<grid, block, 0, stream>>>(dz, dbias, dy, y, models, rows, cols, slope, accumulate_dbias);
    } else {
      activation_backward_from_output_kernel<A, false, T>
          <<<grid, block, 0, stream>>>(dz, dbias, dy, y, models, rows, cols, slope, accumulate_dbias);
    }
  });
  GROOVE_LAUNCH_CHECK(stream, "activation_backward_from_output_kernel");
}

template <typename T>
void binary(T* z, const T* x, const T* y, std::int64_t n, BinaryOp op, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  math::with_binary_op(
      op, [&](auto o) { binary_kernel<decltype(o)::value, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(z, x, y, n); });
  GROOVE_LAUNCH_CHECK(stream, "binary_kernel");
}

template <typename T>
void scale_add(T* y, const T* x, std::int64_t models, std::int64_t per_model, T alpha, const T* alpha_k,
               bool accumulate, Context& ctx) {
  const std::int64_t n = models * per_model;
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  if (accumulate) {
    scale_add_kernel<true, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(y, x, n, per_model, alpha, alpha_k);
  } else {
    scale_add_kernel<false, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(y, x, n, per_model, alpha, alpha_k);
  }
  GROOVE_LAUNCH_CHECK(stream, "scale_add_kernel");
}

template <typename T>
void fill(T* y, std::int64_t n, T value, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  fill_kernel<T><<<grid_for(n, ctx), kBlock, 0, stream>>>(y, n, value);
  GROOVE_LAUNCH_CHECK(stream, "fill_kernel");
}

void copy_bytes(void* dst, const void* src, std::size_t bytes, Context& ctx) {
  if (bytes == 0) return;
  GROOVE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(ctx)));
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_ELEMENTWISE)
template <typename To, typename From>
void convert(To* dst, const From* src, std::int64_t n, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  convert_kernel<To, From><<<grid_for(n, ctx), kBlock, 0, stream>>>(dst, src, n);
  GROOVE_LAUNCH_CHECK(stream, "convert_kernel");
}

GROOVE_FOR_ALL_TYPES(GROOVE_INSTANTIATE_FILL)
GROOVE_INSTANTIATE_CONVERT

}  // namespace groove::cuda
