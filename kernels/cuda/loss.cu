// CUDA loss kernel: one thread per example computes its loss, log-loss and logit gradient
// (kernels/loss_math.h, in double); then one block per model reduces the weighted mean and the
// log-space mean in a fixed tree (deterministic). CPU twin: kernels/cpu/loss.cpp.
#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
constexpr int kLossBlock = 256;

// kernels ------------------------------------------------------------------------------------

template <typename T>
__global__ void example_loss_kernel(T* __restrict__ dlogits, double* __restrict__ ex_loss, double* __restrict__ ex_log,
                                    const T* __restrict__ logits, const std::int32_t* __restrict__ labels,
                                    const T* __restrict__ targets, const T* __restrict__ weights, LossShape s,
                                    double inv_weight_sum, LossKind kind, double margin) {
  const std::int64_t n = s.models * s.examples, c = s.classes;
  for (std::int64_t e = global_thread(); e < n; e += grid_stride()) {
    const std::int64_t k = e / s.examples, p = e % s.examples;
    const std::int32_t label = labels ? labels[k * s.label_model_stride + p] : 0;
    const T* target = targets ? targets + k * s.target_model_stride + p * c : nullptr;
    T* grad = dlogits ? dlogits + e * c : nullptr;
    loss_math::example_loss(kind, margin, logits + e * c, c, label, target, ex_loss[e], ex_log[e], grad);
    if (grad) {
      const T scale = static_cast<T>((weights ? static_cast<double>(weights[p]) : 1.0) * inv_weight_sum);
      for (std::int64_t j = 0; j < c; ++j) grad[j] *= scale;
    }
  }
}

template <typename T>
__global__ void model_loss_kernel(T* __restrict__ loss, T* __restrict__ log10_loss, const double* __restrict__ ex_loss,
                                  const double* __restrict__ ex_log, const T* __restrict__ weights, std::int64_t models,
                                  std::int64_t examples, double inv_weight_sum) {
  __shared__ double sums[kLossBlock];
  __shared__ loss_math::LogSumExp lses[kLossBlock];
  for (std::int64_t k = blockIdx.x; k < models; k += gridDim.x) {
    double sum = 0;
    loss_math::LogSumExp lse = loss_math::lse_init();
    for (std::int64_t p = threadIdx.x; p < examples; p += blockDim.x) {
      const double w = weights ? static_cast<double>(weights[p]) : 1.0;
      sum += w * ex_loss[k * examples + p];
      if (w > 0) lse = loss_math::lse_add(lse, log(w) + ex_log[k * examples + p]);
    }
    sums[threadIdx.x] = sum;
    lses[threadIdx.x] = lse;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half >>= 1) {
      if (threadIdx.x < half) {
        sums[threadIdx.x] += sums[threadIdx.x + half];
        lses[threadIdx.x] = loss_math::lse_combine(lses[threadIdx.x], lses[threadIdx.x + half]);
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      loss[k] = static_cast<T>(sums[0] * inv_weight_sum);
      log10_loss[k] = static_cast<T>((loss_math::lse_value(lses[0]) + log(inv_weight_sum)) * 0.43429448190325182765);
    }
    __syncthreads();
  }
}
}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void loss_forward(T* loss, T* log10_loss, T* dlogits, double* per_example, const T* logits, const std::int32_t* labels,
                  const T* targets, const T* weights, const LossShape& s, double inv_weight_sum,
                  const ops::LossSpec& spec, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  const std::int64_t n = s.models * s.examples;
  double* ex_loss = per_example;
  double* ex_log = per_example + n;
  if (n > 0) {
    example_loss_kernel<T><<<grid_for(n, ctx), kBlock, 0, stream>>>(dlogits, ex_loss, ex_log, logits, labels, targets,
                                                                    weights, s, inv_weight_sum, spec.kind, spec.margin);
    GROOVE_LAUNCH_CHECK(stream, "example_loss_kernel");
  }
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(s.models, 65535));
  model_loss_kernel<T><<<blocks, kLossBlock, 0, stream>>>(loss, log10_loss, ex_loss, ex_log, weights, s.models,
                                                          s.examples, inv_weight_sum);
  GROOVE_LAUNCH_CHECK(stream, "model_loss_kernel");
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_LOSS)

}  // namespace groove::cuda
