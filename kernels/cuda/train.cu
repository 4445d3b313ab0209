// CUDA training kernels: the fused optimizer update (one launch for every parameter of every
// model), dropout and Gaussian noise with per-model Philox streams, minibatch indices, the step
// counter. Everything reads the step from device memory, so a captured graph stays valid.
// CPU twins: kernels/cpu/train.cpp.
#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
// kernels ------------------------------------------------------------------------------------

template <OptimizerKind K, typename T>
__global__ void optimizer_kernel(T* __restrict__ params, const T* __restrict__ grads, T* __restrict__ state1,
                                 T* __restrict__ state2, T* __restrict__ compensation, std::int64_t n,
                                 ops::ParamSegments segments, const double* __restrict__ lr,
                                 const double* __restrict__ weight_decay, const std::int32_t* __restrict__ step,
                                 OptimizerHyper hyper) {
  const std::int64_t t = *step;
  const double factor = optim_math::schedule_factor(hyper.schedule, t);
  const optim_math::StepConstants sc = optim_math::step_constants(hyper, t);
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    int seg = 0;
    while (seg + 1 < segments.count && i >= segments.offset[seg + 1]) ++seg;
    const std::int64_t k = (i - segments.offset[seg]) / segments.per_model[seg];
    double s1 = optim_math::uses_state1(K) ? static_cast<double>(state1[i]) : 0.0;
    double s2 = optim_math::uses_state2(K) ? static_cast<double>(state2[i]) : 0.0;
    const double delta = optim_math::update_delta<K>(hyper, sc, static_cast<double>(params[i]),
                                                     static_cast<double>(grads[i]), lr[k] * factor, weight_decay[k], s1, s2);
    if constexpr (optim_math::uses_state1(K)) state1[i] = static_cast<T>(s1);
    if constexpr (optim_math::uses_state2(K)) state2[i] = static_cast<T>(s2);
    params[i] = compensation ? optim_math::apply_kahan(params[i], delta, compensation[i])
                             : optim_math::apply_plain(params[i], delta);
  }
}

// Every per-model draw at a step has one shape: for each element e = k * per_model + i, an op
// gets model k's seed and the step read from the device. The ops are the CPU twins' loop bodies.
template <typename Op>
__global__ void per_model_step_kernel(std::int64_t n, std::int64_t per_model, const std::int32_t* __restrict__ seeds,
                                      const std::int32_t* __restrict__ step, Op op) {
  const std::int32_t s = *step;
  for (std::int64_t e = global_thread(); e < n; e += grid_stride()) op(e, seeds[e / per_model], e % per_model, s);
}

template <typename T>
struct DropoutOp {
  T* y;
  T* mask;
  const T* x;
  std::int64_t per_model;
  std::uint64_t stream;
  float p;
  __device__ void operator()(std::int64_t e, std::int32_t seed, std::int64_t i, std::int32_t s) const {
    const T m = dropout_scale<T>(model_step_block(seed, stream, s, per_model, kBernoulliPerBlock, i), i, p);
    mask[e] = m;
    y[e] = x[e] * m;
  }
};

template <typename T>
struct NoiseOp {
  T* y;
  const T* x;
  std::int64_t per_model;
  std::uint64_t stream;
  T stddev;
  __device__ void operator()(std::int64_t e, std::int32_t seed, std::int64_t i, std::int32_t s) const {
    const U32x4 w = model_step_block(seed, stream, s, per_model, kNormalPerBlock, i);
    y[e] = x[e] + normal_from_block<T>(w, static_cast<int>(i % kNormalPerBlock), T(0), stddev);
  }
};

struct MinibatchOp {
  std::int32_t* index;
  std::int64_t batch, n_examples;
  std::uint64_t stream;
  __device__ void operator()(std::int64_t e, std::int32_t seed, std::int64_t j, std::int32_t s) const {
    index[e] = minibatch_index(seed, stream, s, batch, n_examples, j);
  }
};

template <typename Op>
void launch_per_model(std::int64_t n, std::int64_t per_model, const std::int32_t* seeds, const std::int32_t* step,
                      const Op& op, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t cs = cuda_stream(ctx);
  per_model_step_kernel<Op><<<grid_for(n, ctx), kBlock, 0, cs>>>(n, per_model, seeds, step, op);
  GROOVE_LAUNCH_CHECK(cs, "per_model_step_kernel");
}

__global__ void increment_kernel(std::int32_t* counter) {
  ++*counter;
}
}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void optimizer_update(T* params, const T* grads, T* state1, T* state2, T* compensation, std::int64_t n,
                      const ops::ParamSegments& segments, const double* lr, const double* weight_decay,
                      const std::int32_t* step, const OptimizerHyper& hyper, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  optim_math::with_optimizer_kind(hyper.kind, [&](auto kind) {
    optimizer_kernel<decltype(kind)::value, T><<<grid_for(n, ctx), kBlock, 0, stream>>>(
        params, grads, state1, state2, compensation, n, segments, lr, weight_decay, step, hyper);
  });
  GROOVE_LAUNCH_CHECK(stream, "optimizer_kernel");
}

template <typename T>
void dropout_forward(T* y, T* mask, const T* x, std::int64_t models, std::int64_t per_model, float p,
                     const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx) {
  launch_per_model(models * per_model, per_model, seeds, step, DropoutOp<T>{y, mask, x, per_model, stream, p}, ctx);
}

template <typename T>
void add_gaussian_noise(T* y, const T* x, std::int64_t models, std::int64_t per_model, T stddev,
                        const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx) {
  launch_per_model(models * per_model, per_model, seeds, step, NoiseOp<T>{y, x, per_model, stream, stddev}, ctx);
}

void minibatch_indices(std::int32_t* index, std::int64_t models, std::int64_t batch, std::int64_t n_examples,
                       const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context& ctx) {
  launch_per_model(models * batch, batch, seeds, step, MinibatchOp{index, batch, n_examples, stream}, ctx);
}

void increment_counter(std::int32_t* counter, Context& ctx) {
  const cudaStream_t cs = cuda_stream(ctx);
  increment_kernel<<<1, 1, 0, cs>>>(counter);
  GROOVE_LAUNCH_CHECK(cs, "increment_kernel");
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_TRAIN)

}  // namespace groove::cuda
