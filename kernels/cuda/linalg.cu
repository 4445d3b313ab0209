// CUDA kernels of kernels/linalg_ops.h. One block per model for the per-model problems (Cholesky,
// substitution, diagonal, scores, solver steps), grid-stride loops for the elementwise ones. The
// Cholesky factor and substitution perform, entry by entry, the same operations in the same
// order as the CPU twins (kernels/cpu/linalg.cpp); reductions are fixed shared-memory trees
// accumulated in double (deterministic, no atomics). Shared math: linalg_math (linalg_ops.h).
#include <limits>

#include "kernels/cuda/launch.h"
#include "kernels/linalg_ops.h"

namespace groove::cuda {

namespace {
using linalg_math::kCholeskyPanel;

constexpr int kModelBlock = 256;  // threads of a per-model block (a power of two)

__device__ inline double nan_value() {
  return std::numeric_limits<double>::quiet_NaN();
}

// Sum of one value per thread of a kModelBlock block, in a fixed tree; every thread gets the sum.
__device__ double block_sum(double v, double* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = kModelBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
    __syncthreads();
  }
  const double total = scratch[0];
  __syncthreads();
  return total;
}

// kernels ------------------------------------------------------------------------------------

// Blocked left-looking Cholesky of model blockIdx.x (see the CPU twin factor_one). Thread t owns
// the columns i = t, t + blockDim.x, ... of the panel rows; the panel update keeps the panel's
// kCholeskyPanel partial sums of column i in registers.
__global__ void cholesky_factor_kernel(double* u, std::int32_t* __restrict__ info, const double* a, std::int64_t n) {
  __shared__ double pivot;
  const std::int64_t k = blockIdx.x;
  double* uk = u + k * n * n;
  const double* ak = a + k * n * n;
  for (std::int64_t j0 = 0; j0 < n; j0 += kCholeskyPanel) {
    const std::int64_t jb = n - j0 < kCholeskyPanel ? n - j0 : kCholeskyPanel;
    for (std::int64_t i = j0 + threadIdx.x; i < n; i += blockDim.x) {
      double acc[kCholeskyPanel];
#pragma unroll
      for (int c = 0; c < kCholeskyPanel; ++c) acc[c] = c < jb ? ak[(j0 + c) * n + i] : 0.0;
      for (std::int64_t p = 0; p < j0; ++p) {
        const double* up = uk + p * n;
        const double upi = up[i];
#pragma unroll
        for (int c = 0; c < kCholeskyPanel; ++c) {
          if (c < jb) acc[c] -= up[j0 + c] * upi;
        }
      }
#pragma unroll
      for (int c = 0; c < kCholeskyPanel; ++c) {
        if (c < jb && i >= j0 + c) uk[(j0 + c) * n + i] = acc[c];
      }
    }
    for (std::int64_t c = 0; c < jb; ++c) {
      const std::int64_t j = j0 + c;
      double* uj = uk + j * n;
      __syncthreads();
      if (threadIdx.x == 0) pivot = uj[j];
      __syncthreads();
      const double d = pivot;
      if (!linalg_math::pivot_ok(d)) {  // uniform across the block
        if (threadIdx.x == 0) info[k] = static_cast<std::int32_t>(j + 1);
        __syncthreads();  // every thread has read what it needs of uk
        for (std::int64_t e = threadIdx.x; e < n * n; e += blockDim.x) uk[e] = nan_value();
        return;
      }
      const double r = sqrt(d);
      for (std::int64_t i = j + threadIdx.x; i < n; i += blockDim.x) uj[i] = i == j ? r : uj[i] / r;
      __syncthreads();
      for (std::int64_t c2 = c + 1; c2 < jb; ++c2) {
        const std::int64_t j2 = j0 + c2;
        const double coef = uj[j2];
        double* u2 = uk + j2 * n;
        for (std::int64_t i = j2 + threadIdx.x; i < n; i += blockDim.x) u2[i] -= coef * uj[i];
      }
    }
    for (std::int64_t c = 0; c < jb; ++c) {
      const std::int64_t j = j0 + c;
      for (std::int64_t i = threadIdx.x; i < j; i += blockDim.x) uk[j * n + i] = 0.0;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) info[k] = 0;
}

// Forward then backward substitution for model blockIdx.x (see the CPU twin substitute_one);
// threads split the rows below (above) the current one and the right-hand sides.
__global__ void cholesky_substitute_kernel(double* x, const double* __restrict__ u,
                                           const std::int32_t* __restrict__ info, const double* b,
                                           std::int64_t b_stride, std::int64_t n, std::int64_t m) {
  const std::int64_t k = blockIdx.x;
  double* xk = x + k * n * m;
  const double* bk = b + k * b_stride;
  const double* uk = u + k * n * n;
  if (info[k] != 0) {
    for (std::int64_t e = threadIdx.x; e < n * m; e += blockDim.x) xk[e] = nan_value();
    return;
  }
  if (xk != bk) {
    for (std::int64_t e = threadIdx.x; e < n * m; e += blockDim.x) xk[e] = bk[e];
  }
  __syncthreads();
  for (std::int64_t i = 0; i < n; ++i) {
    const double piv = uk[i * n + i];
    double* xi = xk + i * m;
    for (std::int64_t c = threadIdx.x; c < m; c += blockDim.x) xi[c] = xi[c] / piv;
    __syncthreads();
    const std::int64_t below = (n - 1 - i) * m;
    for (std::int64_t e = threadIdx.x; e < below; e += blockDim.x) {
      const std::int64_t r = i + 1 + e / m, c = e % m;
      xk[r * m + c] -= uk[i * n + r] * xi[c];
    }
    __syncthreads();
  }
  for (std::int64_t i = n - 1; i >= 0; --i) {
    const double piv = uk[i * n + i];
    double* xi = xk + i * m;
    for (std::int64_t c = threadIdx.x; c < m; c += blockDim.x) xi[c] = xi[c] / piv;
    __syncthreads();
    const std::int64_t above = i * m;
    for (std::int64_t e = threadIdx.x; e < above; e += blockDim.x) {
      const std::int64_t r = e / m, c = e % m;
      xk[r * m + c] -= uk[r * n + i] * xi[c];
    }
    __syncthreads();
  }
}

// Thread 0 of each model sums the diagonal sequentially (the CPU order), then all add alpha.
__global__ void regularize_diagonal_kernel(double* a, double* __restrict__ alpha, std::int64_t n, double rel,
                                           double denom, double fallback) {
  __shared__ double value;
  const std::int64_t k = blockIdx.x;
  double* ak = a + k * n * n;
  if (threadIdx.x == 0) {
    double trace = 0.0;
    for (std::int64_t i = 0; i < n; ++i) trace += ak[i * n + i];
    value = linalg_math::relative_ridge(trace, rel, denom, fallback);
    alpha[k] = value;
  }
  __syncthreads();
  const double al = value;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) ak[i * n + i] += al;
}

template <typename T>
__global__ void gather_features_kernel(double* __restrict__ y, const T* __restrict__ x1, const T* __restrict__ x2,
                                       const std::int32_t* __restrict__ index, std::int64_t models, std::int64_t p1,
                                       std::int64_t p2, std::int64_t rows, std::int64_t cols) {
  const std::int64_t total = models * rows * cols;
  for (std::int64_t e = global_thread(); e < total; e += grid_stride()) {
    const std::int64_t row = e / cols, col = e % cols;
    const std::int64_t k = row / rows;
    const std::int64_t src = index[row % rows];
    double v = nan_value();  // out-of-range rows become NaN: the device cannot throw (see linalg_ops.h)
    if (src >= 0 && src < p1) {
      v = static_cast<double>(x1[(k * p1 + src) * cols + col]);
    } else if (src >= p1 && src < p1 + p2) {
      v = static_cast<double>(x2[(k * p2 + (src - p1)) * cols + col]);
    }
    y[e] = v;
  }
}

// Block (model k, slot s): slot 0 scores every row, slot 1 + g the rows of group g.
__global__ void classification_scores_kernel(double* __restrict__ accuracy, double* __restrict__ log_loss,
                                             const double* __restrict__ logits, const std::int32_t* __restrict__ labels,
                                             const std::int32_t* __restrict__ groups, std::int64_t rows,
                                             std::int64_t outputs, std::int64_t n_groups) {
  __shared__ double scratch[kModelBlock];
  const std::int64_t slots = 1 + n_groups;
  const std::int64_t k = blockIdx.x / slots, s = blockIdx.x % slots;
  double correct = 0.0, count = 0.0, bad = 0.0, loss = 0.0;
  for (std::int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    if (s > 0 && groups[r] != s - 1) continue;
    const double* f = logits + (k * rows + r) * outputs;
    correct += linalg_math::row_prediction(f, outputs) == labels[r] ? 1.0 : 0.0;
    count += 1.0;
    bad += linalg_math::row_has_nan(f, outputs) ? 1.0 : 0.0;
    if (s == 0 && log_loss) loss += linalg_math::row_log_loss(f, outputs, labels[r]);
  }
  correct = block_sum(correct, scratch);
  count = block_sum(count, scratch);
  bad = block_sum(bad, scratch);
  if (s == 0 && log_loss) loss = block_sum(loss, scratch);
  if (threadIdx.x == 0) {
    accuracy[k * slots + s] = linalg_math::accuracy_of(correct, count, bad);
    if (s == 0 && log_loss) log_loss[k] = rows > 0 ? loss / static_cast<double>(rows) : nan_value();
  }
}

__global__ void logistic_setup_kernel(double* __restrict__ state, double* __restrict__ inv_scale,
                                      const double* __restrict__ norm, std::int64_t models, double count) {
  using namespace linalg_math;
  for (std::int64_t k = global_thread(); k < models; k += grid_stride()) {
    state[kLogisticL * models + k] = 0.0;
    state[kLogisticT * models + k] = 1.0;
    state[kLogisticStatus * models + k] = 0.0;
    state[kLogisticIters * models + k] = 0.0;
    state[kLogisticGradNorm * models + k] = nan_value();
    inv_scale[k] = norm[k] > 0.0 ? sqrt(count) / norm[k] : 1.0;
  }
}

__global__ void logistic_residual_kernel(double* __restrict__ r, const double* __restrict__ logits,
                                         const std::int32_t* __restrict__ labels, std::int64_t total_rows,
                                         std::int64_t rows, std::int64_t outputs, double scale) {
  for (std::int64_t row = global_thread(); row < total_rows; row += grid_stride()) {
    linalg_math::row_loss_gradient(r + row * outputs, logits + row * outputs, outputs, labels[row % rows], scale);
  }
}

// One block per model; the same decisions as the CPU twin, with tree sums.
__global__ void logistic_update_kernel(LogisticStep s) {
  using namespace linalg_math;
  __shared__ double scratch[kModelBlock];
  const std::int64_t m = s.models, k = blockIdx.x;
  const std::int64_t pw = s.params_w, po = s.outputs, pz = s.rows * s.outputs;
  if (s.state[kLogisticStatus * m + k] != 0.0) return;  // uniform across the block
  // Read the state before the first tree sum: thread 0 rewrites it at the end.
  const double l0 = s.state[kLogisticL * m + k], t0 = s.state[kLogisticT * m + k];
  double* w = s.w + k * pw;
  double* yw = s.yw + k * pw;
  const double* gw = s.gw + k * pw;
  double* b = s.b + k * po;
  double* yb = s.yb + k * po;
  const double* gb = s.gb + k * po;
  const double* zg = s.zg + k * pz;
  double gw_sq = 0.0, gb_sq = 0.0, zg_sq = 0.0;
  for (std::int64_t i = threadIdx.x; i < pw; i += blockDim.x) gw_sq += gw[i] * gw[i];
  for (std::int64_t i = threadIdx.x; i < po; i += blockDim.x) gb_sq += gb[i] * gb[i];
  for (std::int64_t i = threadIdx.x; i < pz; i += blockDim.x) zg_sq += zg[i] * zg[i];
  gw_sq = block_sum(gw_sq, scratch);
  gb_sq = block_sum(gb_sq, scratch);
  zg_sq = block_sum(zg_sq, scratch);
  const double g_sq = gw_sq + gb_sq, gnorm = sqrt(g_sq);
  if (gnorm <= s.tol) {
    for (std::int64_t i = threadIdx.x; i < pw; i += blockDim.x) w[i] = yw[i];
    for (std::int64_t i = threadIdx.x; i < po; i += blockDim.x) b[i] = yb[i];
    if (threadIdx.x == 0) {
      s.state[kLogisticGradNorm * m + k] = gnorm;
      s.state[kLogisticStatus * m + k] = 1.0;
      s.state[kLogisticIters * m + k] = static_cast<double>(s.iteration);
    }
    return;
  }
  if (!s.step) {
    if (threadIdx.x == 0) s.state[kLogisticGradNorm * m + k] = gnorm;
    return;
  }
  const double ld = directional_curvature(s.curvature, zg_sq, s.lambda, gw_sq, g_sq);
  const double l = next_lipschitz(l0, ld);
  if (!(l > 0.0) || !isfinite(l)) {
    if (threadIdx.x == 0) {
      s.state[kLogisticGradNorm * m + k] = gnorm;
      s.state[kLogisticStatus * m + k] = 2.0;
    }
    return;
  }
  const double inv_l = 1.0 / l;
  double dot = 0.0;
  for (std::int64_t i = threadIdx.x; i < pw; i += blockDim.x) dot += gw[i] * (yw[i] - gw[i] * inv_l - w[i]);
  for (std::int64_t i = threadIdx.x; i < po; i += blockDim.x) dot += gb[i] * (yb[i] - gb[i] * inv_l - b[i]);
  dot = block_sum(dot, scratch);
  const double t = dot > 0.0 ? 1.0 : t0;
  const double t_next = fista_next_t(t), beta = (t - 1.0) / t_next;
  for (std::int64_t i = threadIdx.x; i < pw; i += blockDim.x) fista_element(w[i], yw[i], gw[i], inv_l, beta);
  for (std::int64_t i = threadIdx.x; i < po; i += blockDim.x) fista_element(b[i], yb[i], gb[i], inv_l, beta);
  if (threadIdx.x == 0) {
    s.state[kLogisticGradNorm * m + k] = gnorm;
    s.state[kLogisticL * m + k] = l;
    s.state[kLogisticT * m + k] = t_next;
    s.state[kLogisticIters * m + k] = static_cast<double>(s.iteration + 1);
  }
}

// Blocks for a per-model kernel: one per model (grid.x is at most 2^31 - 1).
unsigned model_grid(std::int64_t blocks) {
  GROOVE_CHECK(blocks <= 0x7fffffff, "too many models for one launch: ", blocks);
  return static_cast<unsigned>(blocks);
}
}  // namespace

// entries --------------------------------------------------------------------------------------

void cholesky_factor(double* u, std::int32_t* info, const double* a, std::int64_t models, std::int64_t n,
                     Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  cholesky_factor_kernel<<<model_grid(models), kModelBlock, 0, stream>>>(u, info, a, n);
  GROOVE_LAUNCH_CHECK(stream, "cholesky_factor_kernel");
}

void cholesky_substitute(double* x, const double* u, const std::int32_t* info, const double* b, std::int64_t b_stride,
                         std::int64_t models, std::int64_t n, std::int64_t m, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  cholesky_substitute_kernel<<<model_grid(models), kModelBlock, 0, stream>>>(x, u, info, b, b_stride, n, m);
  GROOVE_LAUNCH_CHECK(stream, "cholesky_substitute_kernel");
}

void regularize_diagonal(double* a, double* alpha, std::int64_t models, std::int64_t n, double rel, double denom,
                         double fallback, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  regularize_diagonal_kernel<<<model_grid(models), kModelBlock, 0, stream>>>(a, alpha, n, rel, denom, fallback);
  GROOVE_LAUNCH_CHECK(stream, "regularize_diagonal_kernel");
}

template <typename T>
void gather_features(double* y, const T* x1, const T* x2, const std::int32_t* index, std::int64_t models,
                     std::int64_t p1, std::int64_t p2, std::int64_t rows, std::int64_t cols, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  gather_features_kernel<T>
      <<<grid_for(models * rows * cols, ctx), kBlock, 0, stream>>>(y, x1, x2, index, models, p1, p2, rows, cols);
  GROOVE_LAUNCH_CHECK(stream, "gather_features_kernel");
}

void classification_scores(double* accuracy, double* log_loss, const double* logits, const std::int32_t* labels,
                           const std::int32_t* groups, std::int64_t models, std::int64_t rows, std::int64_t outputs,
                           std::int64_t n_groups, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  classification_scores_kernel<<<model_grid(models * (1 + n_groups)), kModelBlock, 0, stream>>>(
      accuracy, log_loss, logits, labels, groups, rows, outputs, n_groups);
  GROOVE_LAUNCH_CHECK(stream, "classification_scores_kernel");
}

void logistic_setup(double* state, double* inv_scale, const double* norm, std::int64_t models, double count,
                    Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  logistic_setup_kernel<<<grid_for(models, ctx), kBlock, 0, stream>>>(state, inv_scale, norm, models, count);
  GROOVE_LAUNCH_CHECK(stream, "logistic_setup_kernel");
}

void logistic_residual(double* r, const double* logits, const std::int32_t* labels, std::int64_t models,
                       std::int64_t rows, std::int64_t outputs, double scale, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  logistic_residual_kernel<<<grid_for(models * rows, ctx), kBlock, 0, stream>>>(r, logits, labels, models * rows, rows,
                                                                                outputs, scale);
  GROOVE_LAUNCH_CHECK(stream, "logistic_residual_kernel");
}

void logistic_update(const LogisticStep& s, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  logistic_update_kernel<<<model_grid(s.models), kModelBlock, 0, stream>>>(s);
  GROOVE_LAUNCH_CHECK(stream, "logistic_update_kernel");
}

GROOVE_INSTANTIATE_GATHER_FEATURES(float)
GROOVE_INSTANTIATE_GATHER_FEATURES(double)

}  // namespace groove::cuda
