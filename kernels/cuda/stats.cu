// CUDA per-step statistics (twins of kernels/cpu/stats.cpp): margins, class means, distances to
// the class means, parameter norms and the row summary (one block per model: a bitonic sort of
// the margins for the quantiles, fixed-order block reductions, no atomics). Shared per-model math:
// kernels/stats_ops.h (namespace stats).
#include "kernels/backend.h"
#include "kernels/cuda/launch.h"
#include "kernels/loss_math.h"
#include "kernels/stats_ops.h"

namespace groove::cuda {

namespace {
constexpr int kSummaryBlock = 256;
constexpr int kNormBlock = 256;
constexpr int kClassChunk = 8;  // class accumulators held in registers per pass

// Deterministic block-wide sum (blockDim.x a power of two <= the shared array's size).
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  const double r = shared[0];
  __syncthreads();
  return r;
}

__device__ loss_math::LogSumExp block_lse(loss_math::LogSumExp v, loss_math::LogSumExp* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] = loss_math::lse_combine(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const loss_math::LogSumExp r = shared[0];
  __syncthreads();
  return r;
}

__device__ double load(const void* p, bool f64, std::int64_t i) {
  return f64 ? static_cast<const double*>(p)[i] : static_cast<double>(static_cast<const float*>(p)[i]);
}

// kernels ------------------------------------------------------------------------------------

template <typename T>
__global__ void margins_kernel(double* __restrict__ out, const T* __restrict__ logits,
                               const std::int32_t* __restrict__ labels, std::int64_t total, std::int64_t n,
                               std::int64_t classes) {
  for (std::int64_t e = global_thread(); e < total; e += grid_stride()) {
    out[e] = stats::margin(logits + e * classes, classes, labels[e % n]);
  }
}

// One thread per (model, feature): walks the rows once per chunk of kClassChunk classes.
template <typename T>
__global__ void class_means_kernel(T* __restrict__ means, const T* __restrict__ features,
                                   const std::int32_t* __restrict__ classes, std::int64_t models, std::int64_t n,
                                   std::int64_t dim, std::int64_t n_classes) {
  for (std::int64_t t = global_thread(); t < models * dim; t += grid_stride()) {
    const std::int64_t k = t / dim, j = t % dim;
    const T* f = features + k * n * dim + j;
    for (std::int64_t c0 = 0; c0 < n_classes; c0 += kClassChunk) {
      double acc[kClassChunk];
      std::int64_t count[kClassChunk];
      for (int c = 0; c < kClassChunk; ++c) {
        acc[c] = 0;
        count[c] = 0;
      }
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t c = classes[i] - c0;
        if (c >= 0 && c < kClassChunk) {
          acc[c] += static_cast<double>(f[i * dim]);
          ++count[c];
        }
      }
      for (int c = 0; c < kClassChunk && c0 + c < n_classes; ++c) {
        means[(k * n_classes + c0 + c) * dim + j] = static_cast<T>(count[c] > 0 ? acc[c] / count[c] : 0.0);
      }
    }
  }
}

// One warp per (model, row); lanes split the features, then a fixed shuffle tree.
template <typename T>
__global__ void sq_distances_kernel(double* __restrict__ out, const T* __restrict__ features,
                                    const T* __restrict__ means, std::int64_t models, std::int64_t n, std::int64_t dim,
                                    std::int64_t n_classes) {
  const std::int64_t warps = grid_stride() / 32;
  const int lane = threadIdx.x % 32;
  for (std::int64_t e = global_thread() / 32; e < models * n; e += warps) {
    const std::int64_t k = e / n;
    const T* h = features + e * dim;
    for (std::int64_t c = 0; c < n_classes; ++c) {
      const T* mu = means + (k * n_classes + c) * dim;
      double s = 0;
      for (std::int64_t j = lane; j < dim; j += 32) {
        const double d = static_cast<double>(h[j]) - static_cast<double>(mu[j]);
        s += d * d;
      }
      for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
      if (lane == 0) out[e * n_classes + c] = s;
    }
  }
}

// Block (model k, segment l): l < layers sums one weight segment; l == layers sums the gradient.
template <typename T>
__global__ void param_norms_kernel(double* __restrict__ out, const T* __restrict__ values,
                                   const T* __restrict__ initial, const T* __restrict__ grads,
                                   ops::ParamSegments weights, ops::ParamSegments all) {
  __shared__ double shared[kNormBlock];
  const std::int64_t k = blockIdx.x;
  const int l = static_cast<int>(blockIdx.y), layers = weights.count;
  const std::int64_t width = 3 * layers + 1;
  if (l < layers) {
    const std::int64_t per = weights.per_model[l], base = weights.offset[l] + k * per;
    double w2 = 0, d2 = 0, w02 = 0;
    for (std::int64_t i = threadIdx.x; i < per; i += blockDim.x) {
      const double w = static_cast<double>(values[base + i]), w0 = static_cast<double>(initial[base + i]);
      w2 += w * w;
      d2 += (w - w0) * (w - w0);
      w02 += w0 * w0;
    }
    w2 = block_sum(w2, shared);
    d2 = block_sum(d2, shared);
    w02 = block_sum(w02, shared);
    if (threadIdx.x == 0) {
      out[k * width + 3 * l] = w2;
      out[k * width + 3 * l + 1] = d2;
      out[k * width + 3 * l + 2] = w02;
    }
  } else {
    double g2 = 0;
    if (grads) {
      for (int s = 0; s < all.count; ++s) {
        const std::int64_t per = all.per_model[s], base = all.offset[s] + k * per;
        for (std::int64_t i = threadIdx.x; i < per; i += blockDim.x) {
          const double g = static_cast<double>(grads[base + i]);
          g2 += g * g;
        }
      }
    }
    g2 = block_sum(g2, shared);
    if (threadIdx.x == 0) out[k * width + 3 * layers] = grads ? g2 : NAN;
  }
}

template <typename T>
__global__ void pgd_step_kernel(T* __restrict__ delta, const T* __restrict__ grad, std::int64_t n, T step_size,
                                T epsilon) {
  for (std::int64_t i = global_thread(); i < n; i += grid_stride()) {
    delta[i] = stats::pgd_update(delta[i], grad[i], step_size, epsilon);
  }
}

// One block per model.
__global__ void step_summary_kernel(StepSummaryArgs a) {
  __shared__ double shared[kSummaryBlock];
  __shared__ loss_math::LogSumExp shared_lse[kSummaryBlock];
  const std::int64_t p = a.train, q = a.heldout, c = a.classes;
  const int columns = stats::row_columns(a.layers, a.groups);
  const std::int64_t slot = (static_cast<std::int64_t>(a.step[0]) / a.every) % a.ring_rows;
  const unsigned tid = threadIdx.x;
  for (std::int64_t k = blockIdx.x; k < a.models; k += gridDim.x) {
    double* row = a.rows + (slot * a.models + k) * columns;
    for (int j = static_cast<int>(tid); j < columns; j += blockDim.x) row[j] = NAN;
    __syncthreads();
    // Train margins: sum, correct, NaN count; padded copy for the sort.
    const double* m = a.train_margins + k * p;
    double* sorted = a.scratch + k * a.scratch_stride;
    std::int64_t p2 = 1;
    while (p2 < p) p2 <<= 1;
    double sum = 0, correct = 0, nans = 0;
    for (std::int64_t i = tid; i < p2; i += blockDim.x) {
      if (i < p) {
        sum += m[i];
        correct += m[i] > 0;
        nans += isnan(m[i]);
        sorted[i] = m[i];
      } else {
        sorted[i] = INFINITY;
      }
    }
    sum = block_sum(sum, shared);
    correct = block_sum(correct, shared);
    nans = block_sum(nans, shared);
    // Bitonic sort of the padded margins (ascending); __syncthreads orders the global writes.
    for (std::int64_t size = 2; size <= p2; size <<= 1) {
      for (std::int64_t stride = size >> 1; stride > 0; stride >>= 1) {
        for (std::int64_t i = tid; i < p2; i += blockDim.x) {
          const std::int64_t j = i ^ stride;
          if (j > i) {
            const bool up = (i & size) == 0;
            const double x = sorted[i], y = sorted[j];
            if ((x > y) == up) {
              sorted[i] = y;
              sorted[j] = x;
            }
          }
        }
        __syncthreads();
      }
    }
    // Hidden layer: within-class variance, nearest class mean, centroid distances.
    double within = 0, ncm = 0;
    if (a.train_dist) {
      const double* d = a.train_dist + k * p * c;
      for (std::int64_t i = tid; i < p; i += blockDim.x) {
        within += d[i * c + a.train_classes[i]];
        ncm += stats::argmin(d + i * c, c) == a.train_classes[i];
      }
    }
    within = block_sum(within, shared);
    ncm = block_sum(ncm, shared);
    double centroid = 0;
    std::int64_t pairs = 0;
    if (a.train_dist) {
      for (std::int64_t c1 = 0; c1 < c; ++c1) {
        for (std::int64_t c2 = c1 + 1; c2 < c; ++c2) {
          double s = 0;
          for (std::int64_t j = tid; j < a.features; j += blockDim.x) {
            const double x = load(a.means, a.means_f64, (k * c + c1) * a.features + j) -
                             load(a.means, a.means_f64, (k * c + c2) * a.features + j);
            s += x * x;
          }
          centroid += sqrt(block_sum(s, shared));
          ++pairs;
        }
      }
    }
    if (tid == 0) {
      row[stats::kStep] = a.step[0];
      row[stats::kTrainLoss] = load(a.train_loss, a.loss_f64, k);
      row[stats::kTrainLog10Loss] = load(a.train_log10_loss, a.loss_f64, k);
      row[stats::kTrainAcc] = correct / static_cast<double>(p);
      row[stats::kMarginMean] = sum / static_cast<double>(p);
      if (nans == 0) {
        row[stats::kMarginMin] = sorted[0];
        row[stats::kMarginQ01] = stats::quantile_sorted(sorted, p, 0.01);
        row[stats::kMarginQ05] = stats::quantile_sorted(sorted, p, 0.05);
      }
      stats::norm_columns(row, a.norms + k * (3 * a.layers + 1), a.layers);
      if (a.train_dist) {
        row[stats::kTrainNcmAcc] = ncm / static_cast<double>(p);
        row[stats::kWithinVar] = within / static_cast<double>(p);
        row[stats::kCentroidDist] = pairs ? centroid / static_cast<double>(pairs) : NAN;
      }
    }
    // Held-out examples: pooled (g == groups) and per group.
    if (q > 0) {
      const double* hm = a.heldout_margins + k * q;
      const double* loss = a.heldout_per_example + k * q;
      const double* log_loss = a.heldout_per_example + a.models * q + k * q;
      const double* d = a.heldout_dist ? a.heldout_dist + k * q * c : nullptr;
      for (int g = 0; g <= a.groups; ++g) {
        double g_sum = 0, g_correct = 0, g_ncm = 0, g_count = 0;
        loss_math::LogSumExp g_lse = loss_math::lse_init();
        for (std::int64_t i = tid; i < q; i += blockDim.x) {
          if (g < a.groups && a.heldout_groups[i] != g) continue;
          g_sum += loss[i];
          g_correct += hm[i] > 0;
          g_ncm += d && stats::argmin(d + i * c, c) == a.heldout_classes[i];
          g_count += 1;
          g_lse = loss_math::lse_add(g_lse, log_loss[i]);
        }
        g_sum = block_sum(g_sum, shared);
        g_correct = block_sum(g_correct, shared);
        g_ncm = block_sum(g_ncm, shared);
        g_count = block_sum(g_count, shared);
        g_lse = block_lse(g_lse, shared_lse);
        if (tid == 0 && g_count > 0) {
          const int col = g == a.groups ? static_cast<int>(stats::kHeldoutLoss) : stats::group_column(a.layers, g);
          row[col] = g_sum / g_count;
          row[col + 1] = stats::log10_mean(loss_math::lse_value(g_lse), static_cast<std::int64_t>(g_count));
          row[col + 2] = g_correct / g_count;
          row[col + 3] = d ? g_ncm / g_count : NAN;
        }
      }
    }
    if (a.margins_ring) {
      float* r = a.margins_ring + (slot * a.models + k) * (p + q);
      for (std::int64_t i = tid; i < p; i += blockDim.x) r[i] = static_cast<float>(m[i]);
      for (std::int64_t i = tid; i < q; i += blockDim.x) r[p + i] = static_cast<float>(a.heldout_margins[k * q + i]);
    }
    __syncthreads();
  }
}

}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void margins(double* out, const T* logits, const std::int32_t* labels, std::int64_t models, std::int64_t n,
             std::int64_t classes, Context& ctx) {
  const std::int64_t total = models * n;
  if (total == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  margins_kernel<T><<<grid_for(total, ctx), kBlock, 0, stream>>>(out, logits, labels, total, n, classes);
  GROOVE_LAUNCH_CHECK(stream, "margins_kernel");
}

template <typename T>
void class_means(T* means, const T* features, const std::int32_t* classes, std::int64_t models, std::int64_t n,
                 std::int64_t dim, std::int64_t n_classes, Context& ctx) {
  if (models * dim == 0 || n_classes == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  class_means_kernel<T>
      <<<grid_for(models * dim, ctx), kBlock, 0, stream>>>(means, features, classes, models, n, dim, n_classes);
  GROOVE_LAUNCH_CHECK(stream, "class_means_kernel");
}

template <typename T>
void sq_distances(double* out, const T* features, const T* means, std::int64_t models, std::int64_t n, std::int64_t dim,
                  std::int64_t n_classes, Context& ctx) {
  if (models * n == 0 || n_classes == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  sq_distances_kernel<T>
      <<<grid_for(models * n * 32, ctx), kBlock, 0, stream>>>(out, features, means, models, n, dim, n_classes);
  GROOVE_LAUNCH_CHECK(stream, "sq_distances_kernel");
}

template <typename T>
void param_norms(double* out, const T* values, const T* initial, const T* grads, const ops::ParamSegments& weights,
                 const ops::ParamSegments& all, Context& ctx) {
  if (weights.models == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  const dim3 grid(static_cast<unsigned>(weights.models), static_cast<unsigned>(weights.count + 1));
  param_norms_kernel<T><<<grid, kNormBlock, 0, stream>>>(out, values, initial, grads, weights, all);
  GROOVE_LAUNCH_CHECK(stream, "param_norms_kernel");
}

template <typename T>
void pgd_step(T* delta, const T* grad, std::int64_t n, T step_size, T epsilon, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  pgd_step_kernel<T><<<grid_for(n, ctx), kBlock, 0, stream>>>(delta, grad, n, step_size, epsilon);
  GROOVE_LAUNCH_CHECK(stream, "pgd_step_kernel");
}

void step_summary(const StepSummaryArgs& a, Context& ctx) {
  if (a.models == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  const unsigned grid = static_cast<unsigned>(std::min<std::int64_t>(a.models, std::int64_t(cuda_sm_count(ctx)) * 8));
  step_summary_kernel<<<grid, kSummaryBlock, 0, stream>>>(a);
  GROOVE_LAUNCH_CHECK(stream, "step_summary_kernel");
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_STATS)

}  // namespace groove::cuda
