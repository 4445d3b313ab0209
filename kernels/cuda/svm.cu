// CUDA kernel of ops::svm_dual_solve: one block per model runs the whole SMO solve (no host
// synchronization). Thread t of the block owns the examples t, t + blockDim, ...: it alone writes
// their alpha and gradient, so the only cross-thread traffic is through the block reductions.
// Every reduction folds the terms of kernels/svm_math.h with its combines in a fixed tree (warp
// shuffles, then one warp over the warps' partials): deterministic, no atomics. CPU twin:
// kernels/cpu/svm.cpp (a sequential fold of the same terms and combines).
#include <cstring>

#include "kernels/cuda/launch.h"
#include "kernels/svm_ops.h"

namespace groove::cuda {

namespace {
constexpr int kSvmBlock = 256;
constexpr int kWarps = kSvmBlock / 32;

// A warp shuffle of any trivially copyable struct (word by word).
template <typename T>
__device__ T shfl_down(const T& v, int delta) {
  static_assert(sizeof(T) % 4 == 0, "shuffled structs must be made of 4-byte words");
  constexpr int kWords = sizeof(T) / 4;
  unsigned words[kWords];
  memcpy(words, &v, sizeof(T));
#pragma unroll
  for (int w = 0; w < kWords; ++w) words[w] = __shfl_down_sync(0xffffffffu, words[w], delta);
  T out;
  memcpy(&out, words, sizeof(T));
  return out;
}

// Block-wide reduction in a fixed tree: each warp folds its 32 values (offsets 16, 8, 4, 2, 1),
// then warp 0 folds the kWarps partials the same way. Every thread gets the result. `partial`
// (kWarps slots) and `result` are shared memory owned by this call site; two barriers.
template <typename T, typename Combine>
__device__ T block_reduce(T v, const T& identity, Combine combine, T* partial, T* result) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = combine(v, shfl_down(v, off));
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarps ? partial[lane] : identity;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v = combine(v, shfl_down(v, off));
    if (lane == 0) *result = v;
  }
  __syncthreads();
  return *result;
}

// Reductions used by the solver, each with its own shared slots.
struct Shared {
  svm::ScaleAcc scale_part[kWarps], scale_res;
  svm::SelectI si_part[kWarps], si_res;
  svm::SelectJ sj_part[kWarps], sj_res;
  svm::BiasAcc bias_part[kWarps], bias_res;
  svm::MarginAcc margin_part[kWarps], margin_res;
  svm::KthAcc kth_part[kWarps], kth_res;
};

struct ScaleCombine {
  __device__ svm::ScaleAcc operator()(const svm::ScaleAcc& a, const svm::ScaleAcc& b) const {
    return svm::scale_combine(a, b);
  }
};
struct SelectICombine {
  __device__ svm::SelectI operator()(const svm::SelectI& a, const svm::SelectI& b) const {
    return svm::select_i_combine(a, b);
  }
};
struct SelectJCombine {
  __device__ svm::SelectJ operator()(const svm::SelectJ& a, const svm::SelectJ& b) const {
    return svm::select_j_combine(a, b);
  }
};
struct BiasCombine {
  __device__ svm::BiasAcc operator()(const svm::BiasAcc& a, const svm::BiasAcc& b) const {
    return svm::bias_combine(a, b);
  }
};
struct MarginCombine {
  __device__ svm::MarginAcc operator()(const svm::MarginAcc& a, const svm::MarginAcc& b) const {
    return svm::margin_combine(a, b);
  }
};
struct KthCombine {
  __device__ svm::KthAcc operator()(const svm::KthAcc& a, const svm::KthAcc& b) const { return svm::kth_combine(a, b); }
};

// kernels ------------------------------------------------------------------------------------

// ws: 2 P doubles per model (gradient, diagonal of G).
__global__ void __launch_bounds__(kSvmBlock)
    svm_solve_kernel(double* __restrict__ alpha, double* __restrict__ bias, std::int32_t* __restrict__ info,
                     double* __restrict__ summary, const double* __restrict__ gram, const double* __restrict__ y_all,
                     double* __restrict__ ws, SvmShape s, ops::SvmSolveOptions o) {
  __shared__ Shared sh;
  const std::int64_t k = blockIdx.x, P = s.examples;
  const int tid = threadIdx.x;
  const double* G = gram + k * P * P;
  const double* y = y_all + k * s.y_model_stride;
  double* a = alpha + k * P;
  double* grad = ws + 2 * k * P;
  double* diag = grad + P;
  double* out = summary ? summary + k * svm::kSummaryColumns : nullptr;

  // Setup: a = 0, grad = -1 on used examples, the diagonal; the scale from the diagonal and the
  // column sums over used rows (u increasing, as on the CPU; coalesced across threads).
  svm::ScaleAcc sacc = svm::scale_identity();
  for (std::int64_t t = tid; t < P; t += kSvmBlock) {
    const int yt = svm::label_sign(y[t]);
    diag[t] = G[t * P + t];
    a[t] = 0.0;
    grad[t] = yt != 0 ? -1.0 : 0.0;
    double colsum = 0.0;
    if (yt != 0) {
      for (std::int64_t u = 0; u < P; ++u) {
        if (svm::label_sign(y[u]) != 0) colsum += G[u * P + t];
      }
    }
    sacc = svm::scale_combine(sacc, svm::scale_term(yt, diag[t], colsum));
  }
  sacc = block_reduce(sacc, svm::scale_identity(), ScaleCombine{}, sh.scale_part, &sh.scale_res);
  const double s2 = svm::scale_sq(sacc);
  const double C = svm::effective_c(o.c, o.relative_c, s2);
  if (sacc.n_pos == 0 || sacc.n_neg == 0) {
    if (tid == 0) {
      bias[k] = svm::qnan();
      info[2 * k] = 0;
      info[2 * k + 1] = svm::kOneClass;
      if (out) {
        for (int c = 0; c < svm::kSummaryColumns; ++c) out[c] = svm::qnan();
        out[svm::kAtBound] = 0;
        out[svm::kScale] = sqrt(s2);
      }
    }
    return;
  }

  // SMO. Every thread sees the same reduction results, so all take the same branches.
  std::int64_t iter = 0;
  int status = svm::kMaxIter;
  for (;;) {
    svm::SelectI si = svm::select_i_identity();
    for (std::int64_t t = tid; t < P; t += kSvmBlock) {
      si = svm::select_i_combine(si, svm::select_i_term(int(t), svm::label_sign(y[t]), a[t], grad[t], C));
    }
    si = block_reduce(si, svm::select_i_identity(), SelectICombine{}, sh.si_part, &sh.si_res);
    const svm::Pick pi = si.best;
    svm::SelectJ sj = svm::select_j_identity();
    if (pi.index >= 0) {
      const double* gi = G + std::int64_t(pi.index) * P;
      const double g_ii = diag[pi.index];
      for (std::int64_t t = tid; t < P; t += kSvmBlock) {
        sj = svm::select_j_combine(
            sj, svm::select_j_term(int(t), svm::label_sign(y[t]), a[t], grad[t], C, pi.value, g_ii, diag[t], gi[t]));
      }
    }
    sj = block_reduce(sj, svm::select_j_identity(), SelectJCombine{}, sh.sj_part, &sh.sj_res);
    status = svm::step_status(si, sj, o.tol, o.resolution, s2, iter, o.max_iter);
    if (status != svm::kContinue) break;
    const svm::Pick pj = sj.best;
    const std::int64_t i = pi.index, j = pj.index;
    double ai = pi.alpha, aj = pj.alpha;
    svm::pair_update(pi.y, pj.y, pi.grad, pj.grad, diag[i], diag[j], G[i * P + j], C, ai, aj);
    const double yda_i = pi.y * (ai - pi.alpha), yda_j = pj.y * (aj - pj.alpha);
    if (i % kSvmBlock == tid) a[i] = ai;  // the owners write
    if (j % kSvmBlock == tid) a[j] = aj;
    const double* gi = G + i * P;
    const double* gj = G + j * P;
    for (std::int64_t t = tid; t < P; t += kSvmBlock) {
      const int yt = svm::label_sign(y[t]);
      if (yt != 0) grad[t] += svm::grad_step(yt, gi[t], gj[t], yda_i, yda_j);
    }
    ++iter;
  }
  __syncthreads();  // every alpha written before the exact gradient reads them all

  // Exact gradient: g_t = sum_u a_u y_u G_ut (u increasing, zero a_u skipped), grad_t = y_t g_t - 1.
  svm::BiasAcc bacc = svm::bias_identity();
  for (std::int64_t t = tid; t < P; t += kSvmBlock) {
    const int yt = svm::label_sign(y[t]);
    double g = 0.0;
    if (yt != 0) {
      for (std::int64_t u = 0; u < P; ++u) {
        const double au = a[u];
        const int yu = svm::label_sign(y[u]);
        if (au == 0 || yu == 0) continue;
        g += svm::gram_term(au, yu, G[u * P + t]);
      }
    }
    grad[t] = yt != 0 ? yt * g - 1.0 : 0.0;
    bacc = svm::bias_combine(bacc, svm::bias_term(yt, a[t], grad[t], C));
  }
  bacc = block_reduce(bacc, svm::bias_identity(), BiasCombine{}, sh.bias_part, &sh.bias_res);
  const double b = svm::bias_value(bacc);
  if (tid == 0) {
    bias[k] = b;
    info[2 * k] = static_cast<std::int32_t>(iter);
    info[2 * k + 1] = status;
  }
  if (!out) return;

  const double w_norm = sqrt(bacc.w_sq > 0 ? bacc.w_sq : 0.0);
  svm::MarginAcc macc = svm::margin_identity();
  for (std::int64_t t = tid; t < P; t += kSvmBlock) {
    macc = svm::margin_combine(macc, svm::margin_term(svm::label_sign(y[t]), grad[t], b, w_norm));
  }
  macc = block_reduce(macc, svm::margin_identity(), MarginCombine{}, sh.margin_part, &sh.margin_res);
  if (tid == 0) {
    out[svm::kWNorm] = w_norm;
    out[svm::kAtBound] = bacc.n_at_bound;
    out[svm::kMarginBound] = bacc.sum_alpha > 0 ? w_norm / bacc.sum_alpha : svm::qnan();
    out[svm::kScale] = sqrt(s2);
    out[svm::kWrong] = macc.n_wrong;
  }
  if (!(w_norm > 0) || !isfinite(w_norm) || !isfinite(macc.min_distance)) {
    if (tid == 0) out[svm::kMinDistance] = out[svm::kClosestA] = out[svm::kClosestB] = svm::qnan();
    return;
  }
  // The mean of the k smallest distances, for both fractions, by the bitwise search of svm_math.h.
  const std::int64_t n = static_cast<std::int64_t>(sacc.n_pos + sacc.n_neg);
  const std::int64_t ka = svm::closest_count(o.closest_fractions[0], n);
  const std::int64_t kb = svm::closest_count(o.closest_fractions[1], n);
  std::uint64_t kth_a = 0, kth_b = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const std::uint64_t probe_a = svm::kth_probe(kth_a, bit), probe_b = svm::kth_probe(kth_b, bit);
    svm::KthAcc acc = svm::kth_identity();
    for (std::int64_t t = tid; t < P; t += kSvmBlock) {
      const int yt = svm::label_sign(y[t]);
      if (yt == 0) continue;
      const double d = svm::functional_margin(yt, grad[t], b) / w_norm;
      acc = svm::kth_combine(acc, svm::kth_count_term(d, probe_a, probe_b));
    }
    acc = block_reduce(acc, svm::kth_identity(), KthCombine{}, sh.kth_part, &sh.kth_res);
    kth_a = svm::kth_step(kth_a, bit, acc.count_a, ka);
    kth_b = svm::kth_step(kth_b, bit, acc.count_b, kb);
  }
  svm::KthAcc acc = svm::kth_identity();
  for (std::int64_t t = tid; t < P; t += kSvmBlock) {
    const int yt = svm::label_sign(y[t]);
    if (yt == 0) continue;
    const double d = svm::functional_margin(yt, grad[t], b) / w_norm;
    acc = svm::kth_combine(acc, svm::kth_sum_term(d, kth_a, kth_b));
  }
  acc = block_reduce(acc, svm::kth_identity(), KthCombine{}, sh.kth_part, &sh.kth_res);
  if (tid == 0) {
    out[svm::kMinDistance] = macc.min_distance;
    out[svm::kClosestA] = svm::kth_mean(acc.sum_a, acc.count_a, kth_a, ka);
    out[svm::kClosestB] = svm::kth_mean(acc.sum_b, acc.count_b, kth_b, kb);
  }
}
}  // namespace

// entry ----------------------------------------------------------------------------------------

void svm_dual_solve(double* alpha, double* bias, std::int32_t* info, double* summary, const double* gram,
                    const double* y, const SvmShape& s, const ops::SvmSolveOptions& options, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  auto* ws = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(2 * s.models * s.examples) * sizeof(double)));
  GROOVE_ASSERT(s.models <= 2147483647, "svm_dual_solve: too many models for one grid: ", s.models);
  svm_solve_kernel<<<static_cast<unsigned>(s.models), kSvmBlock, 0, stream>>>(alpha, bias, info, summary, gram, y, ws,
                                                                              s, options);
  GROOVE_LAUNCH_CHECK(stream, "svm_solve_kernel");
}

}  // namespace groove::cuda
