// Internal: the raw kernel entry points of each backend, with identical signatures in
// groove::cpu (kernels/cpu/) and groove::cuda (kernels/cuda/). kernels/ops.cpp validates Tensors
// and calls one of them. Pointers are on the context's device; sizes are element counts.
#pragma once

#include <groove/config.h>

#include <cstddef>
#include <cstdint>

#include "kernels/math.h"
#include "kernels/ops.h"
#include "runtime/context.h"
#include "runtime/philox.h"

namespace groove {

// One batched product: c[b] (m x n) = alpha * op(a[b]) (m x k) @ op(b[b]) (k x n) + beta * c[b],
// row-major; a stored [m, k] ([k, m] when trans_a), b stored [k, n] ([n, k] when trans_b).
// A stride of 0 means the operand is shared by all `batch` products.
struct GemmShape {
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// A [outer, r, inner] view of a contiguous tensor reduced over r.
struct ReduceShape {
  std::int64_t outer = 1, r = 1, inner = 1;
};

// gather_rows: y[b, i, :] = x[b, index[b, i], :] for b < batch, i < m, rows of length d; x has p rows.
struct GatherShape {
  std::int64_t batch = 1, m = 0, p = 0, d = 0;
  std::int64_t x_batch_stride = 0;      // elements; 0 = shared x
  std::int64_t index_batch_stride = 0;  // elements; 0 = shared index
};

#define GROOVE_BACKEND_DECLARATIONS                                                                                  \
  template <typename T>                                                                                              \
  void gemm(T* c, const T* a, const T* b, const GemmShape& s, T alpha, T beta, ops::GemmAlgo algo, Context& ctx);    \
  template <typename T>                                                                                              \
  void activation_forward(T* y, const T* x, std::int64_t n, Activation act, T slope, Context& ctx);                  \
  template <typename T>                                                                                              \
  void activation_backward(T* dx, const T* dy, const T* x, std::int64_t n, Activation act, T slope, bool accumulate, \
                           Context& ctx);                                                                            \
  template <typename T>                                                                                              \
  void bias_add(T* y, const T* x, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols,          \
                bool shared_bias, Context& ctx);                                                                     \
  template <typename T>                                                                                              \
  void binary(T* z, const T* x, const T* y, std::int64_t n, BinaryOp op, Context& ctx);                              \
  /* y = (accumulate ? y : 0) + alpha * (alpha_k ? alpha_k[model] : 1) * x over [models, per_model] */               \
  template <typename T>                                                                                              \
  void scale_add(T* y, const T* x, std::int64_t models, std::int64_t per_model, T alpha, const T* alpha_k,           \
                 bool accumulate, Context& ctx);                                                                     \
  template <typename T>                                                                                              \
  void fill(T* y, std::int64_t n, T value, Context& ctx);                                                            \
  void copy_bytes(void* dst, const void* src, std::size_t bytes, Context& ctx);                                      \
  template <typename T>                                                                                              \
  void reduce(T* out, const T* x, const ReduceShape& s, ReduceOp op, Context& ctx);                                  \
  template <typename T>                                                                                              \
  void argmax(std::int32_t* out, const T* x, const ReduceShape& s, Context& ctx);                                    \
  template <typename T>                                                                                              \
  void gather_rows(T* y, const T* x, const std::int32_t* index, const GatherShape& s, Context& ctx);                 \
  template <typename T>                                                                                              \
  void one_hot(T* y, const std::int32_t* labels, std::int64_t n, std::int64_t classes, Context& ctx);                \
  template <typename T>                                                                                              \
  void random_uniform(T* y, std::int64_t n, const RngKey& key, T lo, T hi, Context& ctx);                            \
  template <typename T>                                                                                              \
  void random_normal(T* y, std::int64_t n, const RngKey& key, T mean, T stddev, Context& ctx);                       \
  template <typename T>                                                                                              \
  void random_bernoulli(T* y, std::int64_t n, const RngKey& key, float p, Context& ctx);                             \
  void random_permutation(std::int32_t* y, std::int64_t n, const RngKey& key, Context& ctx);

namespace cpu {
GROOVE_BACKEND_DECLARATIONS
}  // namespace cpu

#if GROOVE_WITH_CUDA
namespace cuda {
GROOVE_BACKEND_DECLARATIONS
}  // namespace cuda
#endif

#undef GROOVE_BACKEND_DECLARATIONS

// Explicit instantiations, written once for both backends: each backend file defines the
// templates above in its namespace and then invokes the macro for its group.
#define GROOVE_INSTANTIATE_GEMM(T) \
  template void gemm<T>(T*, const T*, const T*, const GemmShape&, T, T, ops::GemmAlgo, Context&);
#define GROOVE_INSTANTIATE_ELEMENTWISE(T)                                                                      \
  template void activation_forward<T>(T*, const T*, std::int64_t, Activation, T, Context&);                    \
  template void activation_backward<T>(T*, const T*, const T*, std::int64_t, Activation, T, bool, Context&);   \
  template void bias_add<T>(T*, const T*, const T*, std::int64_t, std::int64_t, std::int64_t, bool, Context&); \
  template void binary<T>(T*, const T*, const T*, std::int64_t, BinaryOp, Context&);                           \
  template void scale_add<T>(T*, const T*, std::int64_t, std::int64_t, T, const T*, bool, Context&);
#define GROOVE_INSTANTIATE_FILL(T) template void fill<T>(T*, std::int64_t, T, Context&);
#define GROOVE_INSTANTIATE_REDUCE(T)                                             \
  template void reduce<T>(T*, const T*, const ReduceShape&, ReduceOp, Context&); \
  template void argmax<T>(std::int32_t*, const T*, const ReduceShape&, Context&);
#define GROOVE_INSTANTIATE_GATHER(T) \
  template void gather_rows<T>(T*, const T*, const std::int32_t*, const GatherShape&, Context&);
#define GROOVE_INSTANTIATE_ONE_HOT(T) \
  template void one_hot<T>(T*, const std::int32_t*, std::int64_t, std::int64_t, Context&);
#define GROOVE_INSTANTIATE_RANDOM(T)                                                \
  template void random_uniform<T>(T*, std::int64_t, const RngKey&, T, T, Context&); \
  template void random_normal<T>(T*, std::int64_t, const RngKey&, T, T, Context&);  \
  template void random_bernoulli<T>(T*, std::int64_t, const RngKey&, float, Context&);

// Applies an instantiation macro to the floating types, or to every dtype.
#define GROOVE_FOR_FLOAT_TYPES(MACRO) MACRO(float) MACRO(double)
#define GROOVE_FOR_ALL_TYPES(MACRO) MACRO(float) MACRO(double) MACRO(std::int32_t)

}  // namespace groove
