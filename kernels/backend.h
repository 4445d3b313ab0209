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

// loss_forward: logits [models, examples, classes]; label / target strides per model (0 = shared).
struct LossShape {
  std::int64_t models = 1, examples = 0, classes = 1;
  std::int64_t label_model_stride = 0, target_model_stride = 0;
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
  void bias_activation(T* y, const T* bias, std::int64_t models, std::int64_t rows, std::int64_t cols,               \
                       bool shared_bias, Activation act, T slope, Context& ctx);                                     \
  template <typename T>                                                                                              \
  void activation_backward_from_output(T* dz, T* dbias, const T* dy, const T* y, std::int64_t models,                \
                                       std::int64_t rows, std::int64_t cols, Activation act, T slope,                \
                                       bool accumulate_dz, bool accumulate_dbias, Context& ctx);                     \
  template <typename T>                                                                                              \
  void binary(T* z, const T* x, const T* y, std::int64_t n, BinaryOp op, Context& ctx);                              \
  /* y = (accumulate ? y : 0) + alpha * (alpha_k ? alpha_k[model] : 1) * x over [models, per_model] */               \
  template <typename T>                                                                                              \
  void scale_add(T* y, const T* x, std::int64_t models, std::int64_t per_model, T alpha, const T* alpha_k,           \
                 bool accumulate, Context& ctx);                                                                     \
  template <typename T>                                                                                              \
  void fill(T* y, std::int64_t n, T value, Context& ctx);                                                            \
  void copy_bytes(void* dst, const void* src, std::size_t bytes, Context& ctx);                                      \
  template <typename To, typename From>                                                                              \
  void convert(To* dst, const From* src, std::int64_t n, Context& ctx);                                              \
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
  void random_permutation(std::int32_t* y, std::int64_t n, const RngKey& key, Context& ctx);                         \
  template <typename T>                                                                                              \
  void loss_forward(T* loss, T* log10_loss, T* dlogits, double* per_example, const T* logits,                        \
                    const std::int32_t* labels, const T* targets, const T* weights, const LossShape& s,              \
                    double inv_weight_sum, const ops::LossSpec& spec, Context& ctx);                                 \
  template <typename T>                                                                                              \
  void optimizer_update(T* params, const T* grads, T* state1, T* state2, T* compensation, std::int64_t n,            \
                        const ops::ParamSegments& segments, const double* lr, const double* weight_decay,            \
                        const std::int32_t* step, const OptimizerHyper& hyper, Context& ctx);                        \
  template <typename T>                                                                                              \
  void dropout_forward(T* y, T* mask, const T* x, std::int64_t models, std::int64_t per_model, float p,              \
                       const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx);     \
  template <typename T>                                                                                              \
  void add_gaussian_noise(T* y, const T* x, std::int64_t models, std::int64_t per_model, T stddev,                   \
                          const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx);  \
  void minibatch_indices(std::int32_t* index, std::int64_t models, std::int64_t batch, std::int64_t n_examples,      \
                         const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx);   \
  void increment_counter(std::int32_t* counter, Context& ctx);

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
  template void bias_activation<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, bool, Activation, T,  \
                                   Context&);                                                                 \
  template void activation_backward_from_output<T>(T*, T*, const T*, const T*, std::int64_t, std::int64_t,     \
                                                   std::int64_t, Activation, T, bool, bool, Context&);          \
  template void binary<T>(T*, const T*, const T*, std::int64_t, BinaryOp, Context&);                           \
  template void scale_add<T>(T*, const T*, std::int64_t, std::int64_t, T, const T*, bool, Context&);
#define GROOVE_INSTANTIATE_FILL(T) template void fill<T>(T*, std::int64_t, T, Context&);
#define GROOVE_INSTANTIATE_CONVERT                                                \
  template void convert<float, double>(float*, const double*, std::int64_t, Context&); \
  template void convert<double, float>(double*, const float*, std::int64_t, Context&);
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

#define GROOVE_INSTANTIATE_LOSS(T)                                                                      \
  template void loss_forward<T>(T*, T*, T*, double*, const T*, const std::int32_t*, const T*, const T*, \
                                const LossShape&, double, const ops::LossSpec&, Context&);
#define GROOVE_INSTANTIATE_TRAIN(T)                                                                                    \
  template void optimizer_update<T>(T*, const T*, T*, T*, T*, std::int64_t, const ops::ParamSegments&, const double*,  \
                                    const double*, const std::int32_t*, const OptimizerHyper&, Context&);              \
  template void dropout_forward<T>(T*, T*, const T*, std::int64_t, std::int64_t, float, const std::int32_t*,           \
                                   std::uint64_t, const std::int32_t*, Context&);                                      \
  template void add_gaussian_noise<T>(T*, const T*, std::int64_t, std::int64_t, T, const std::int32_t*, std::uint64_t, \
                                      const std::int32_t*, Context&);

// Per-model draws inside a replayed step (dropout, noise): element i of model k at step s comes
// from counter block s * blocks_per_step + i / per_block of (seeds[k], stream).
GROOVE_HD inline U32x4 model_step_block(std::int32_t seed, std::uint64_t stream, std::int32_t step,
                                        std::int64_t per_model, int per_block, std::int64_t i) {
  const std::uint64_t blocks_per_step = static_cast<std::uint64_t>((per_model + per_block - 1) / per_block);
  return philox_block(static_cast<std::uint32_t>(seed), stream,
                      static_cast<std::uint64_t>(step) * blocks_per_step + static_cast<std::uint64_t>(i / per_block));
}

// Dropout keep-scale of element i: 1/(1-p) with probability 1-p, else 0.
template <typename T>
GROOVE_HD inline T dropout_scale(U32x4 w, std::int64_t i, float p) {
  return u01_f32(w.v[i % kBernoulliPerBlock]) >= p ? static_cast<T>(1.0 / (1.0 - static_cast<double>(p))) : T(0);
}

// Minibatch index j of model k at `step` (see ops::minibatch_indices).
GROOVE_HD inline std::int32_t minibatch_index(std::int32_t seed, std::uint64_t stream, std::int32_t step,
                                              std::int64_t batch, std::int64_t n, std::int64_t j) {
  const std::int64_t per_epoch = n / batch;
  const std::int64_t epoch = step / per_epoch, position = (step % per_epoch) * batch + j;
  return static_cast<std::int32_t>(permute_index(static_cast<std::uint64_t>(position), static_cast<std::uint64_t>(n),
                                                 static_cast<std::uint32_t>(seed), stream,
                                                 static_cast<std::uint64_t>(epoch)));
}

// Applies an instantiation macro to the floating types, or to every dtype.
#define GROOVE_FOR_FLOAT_TYPES(MACRO) MACRO(float) MACRO(double)
#define GROOVE_FOR_ALL_TYPES(MACRO) MACRO(float) MACRO(double) MACRO(std::int32_t)

}  // namespace groove
