// The linear SVM of an ensemble's features: ops::svm_dual_solve solves the dual of the SVM with
// bias for every model k from its Gram matrix, on the context's device (CPU: one model per
// OpenMP iteration, kernels/cpu/svm.cpp; CUDA: one block per model, kernels/cuda/svm.cu, with no
// host synchronization). The per-example math both backends share is in kernels/svm_math.h;
// metrics/svm.h builds the statistic users watch (the max margin of the hidden layer) on top.
#pragma once

#include <groove/config.h>

#include <cstdint>
#include <limits>

#include "kernels/ops.h"
#include "kernels/svm_math.h"

namespace groove::ops {

struct SvmSolveOptions {
  // Box constraint: 0 <= a_i <= C. inf = hard margin. With relative_c the box of model k is
  // C_k = c / s_k^2, s_k^2 the mean squared distance of model k's used examples to their centroid
  // (s_k^2 = (1/n) sum_i G_ii - (1/n^2) sum_ij G_ij), so it does not depend on the scale of the features.
  double c = std::numeric_limits<double>::infinity();
  bool relative_c = false;
  // Stop when the maximal KKT violation m(a) - M(a) (LIBSVM's) is < tol (units of y f: scale-free).
  double tol = 1e-6;
  // Iteration cap (pair updates); 0: max(10^6, 100 P) (LIBSVM: max(10^7, 100 P)). At most 2^31 - 1.
  std::int64_t max_iter = 0;
  // Stop (status svm::kBelowResolution) once ||w|| / sum_i a_i <= resolution * s_k: that quotient is an
  // upper bound on the hard margin at every feasible a (svm_math.h), so the stop certifies that the
  // margin is at most resolution * s_k (or that the classes overlap). 0: only when ||w|| = 0 exactly.
  // Without this stop the hard-margin dual of overlapping classes (C = inf) grows without end.
  double resolution = 0.0;
  // The two fractions of the used examples whose closest distances the summary averages.
  double closest_fractions[2] = {0.01, 0.05};
};

// Dual of the linear SVM with bias for every model k, from its Gram matrix:
//   min_a 1/2 sum_ij a_i a_j y_i y_j G_ij - sum_i a_i,  0 <= a_i <= C,  sum_i y_i a_i = 0,
// solved by SMO with LIBSVM's second-order working-set selection (Fan, Chen & Lin 2005) from a = 0,
// with a final exact recomputation of the gradient for the bias and the summary.
//   gram: f64 [K, P, P], symmetric (the linear kernel of the features: G_ij = <x_i, x_j>)
//   y: f64 [K, P] or shared [P]: +1 / -1 per example, 0 = example not used (any positive value counts as
//      +1, any negative as -1, 0 and NaN as unused)
//   alpha: f64 [K, P] (out): the dual solution (0 for unused examples)
//   bias: f64 [K] (out): b of f(x) = sum_j a_j y_j G(x_j, x) + b (LIBSVM's -rho: the mean over free
//         examples, 0 < a_i < C, of y_i - g_i with g_i = sum_j a_j y_j G_ij). NaN for status 3.
//   info: i32 [K, 2] (out): pair updates done, and the svm::Status (1: converged to tol; 0: max_iter;
//         2: stopped by `resolution`; 3: one class has no used example: a = 0, nothing solved)
//   summary: f64 [K, svm::kSummaryColumns] (out), or undefined to skip: the columns of svm::SummaryColumn,
//         with w = sum_i a_i y_i x_i (||w||^2 = a^T Q a), distances d_i = y_i f(x_i) / ||w|| over used
//         examples, and k = ceil(fraction * n) closest (n used examples). Distances are NaN when ||w|| = 0
//         and for status 3 (then every column but kScale and kAtBound is NaN).
// At a converged hard-margin solution (C = inf, or no a_i at C) of separable classes, the margin is
// 1 / ||w||, and y_i f(x_i) >= 1 - tol for every i, |y_i f(x_i) - 1| <= tol where a_i > 0.
void svm_dual_solve(Tensor& alpha, Tensor& bias, Tensor& info, Tensor& summary, const Tensor& gram, const Tensor& y,
                    const SvmSolveOptions& options, Context& ctx);

// The iteration cap that max_iter = 0 stands for with P examples.
std::int64_t svm_default_max_iter(std::int64_t examples);

}  // namespace groove::ops

namespace groove {

// The raw entry points: gram [models, P, P]; y rows `y_model_stride` apart (0: shared);
// options.max_iter already resolved (> 0 or the cap); summary may be null.
struct SvmShape {
  std::int64_t models = 1, examples = 0;
  std::int64_t y_model_stride = 0;
};

namespace cpu {
void svm_dual_solve(double* alpha, double* bias, std::int32_t* info, double* summary, const double* gram,
                    const double* y, const SvmShape& s, const ops::SvmSolveOptions& options, Context& ctx);
}  // namespace cpu

#if GROOVE_WITH_CUDA
namespace cuda {
void svm_dual_solve(double* alpha, double* bias, std::int32_t* info, double* summary, const double* gram,
                    const double* y, const SvmShape& s, const ops::SvmSolveOptions& options, Context& ctx);
}  // namespace cuda
#endif

}  // namespace groove
