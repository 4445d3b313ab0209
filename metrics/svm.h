// The max margin of an ensemble's hidden representation: a hard-margin linear SVM (with bias) on the
// hidden features of the training set, for all K models at once, solved on the context's device
// (ops::svm_dual_solve, kernels/svm_ops.h). Meant to run every probe_every steps: the Gram matrices
// are built on the device in f64 (features centered per model, then ops::gemm with trans_b), in
// chunks of models that keep the workspace under options.workspace_bytes; the host reads only the
// per-model results (a few numbers per model and class) at the end of each chunk.
//
// Hard margin, independent of the scale of the features: the box is C = inf (options.c, relative
// to s_k^2 when finite), and the solver stops with a certificate when the classes overlap: at every
// iterate ||w|| / sum_i a_i bounds the max margin from above, so once it falls to
// options.resolution * s_k (s_k: the RMS distance of model k's features to their centroid) the
// max margin is certified to be at most that, and the model is reported as not separable (at
// that resolution). Max margins above resolution * s_k are always resolved (to tol).
//
// Definitions, per model (d_i = y_i f(x_i) / ||w||, the signed distance of example i to the
// boundary f = 0 of the SVM's solution w, b; y_i = +1 / -1):
//   margin        1 / ||w|| when the solver converged to tol (m(a) - M(a) < tol) with every example on
//                 its correct side and no a_i at the box C; NaN otherwise (not separable, below the
//                 resolution, not converged within max_iter, or a finite C that binds)
//   min_distance  min_i d_i (= margin to rel. tol at a hard-margin solution; negative when not separable)
//   closest_1pct  mean of the ceil(0.01 P) smallest d_i;  closest_5pct: of the ceil(0.05 P) smallest
//   separable     1 if every example lies strictly on its correct side (d_i > 0) of the solution found
//   margin_bound  ||w|| / sum_i a_i: an upper bound on the max margin (equal to it at convergence)
//   iterations    SMO pair updates;  converged: 1 unless a solve stopped at max_iter
// Classes: 2 (or 1, a binary output): class 1 (y = +1) against class 0 (y = -1). classes > 2:
// one SVM per class present in the labels, that class (+1) against the rest (-1); the model's
// margin, min_distance, closest_*, margin_bound are the minimum over those SVMs (NaN if any is
// NaN), separable and converged hold when they hold for every SVM, iterations add up.
// A model whose labels hold a single class has NaN statistics and separable = 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove::metrics {

struct SvmOptions {
  double c = std::numeric_limits<double>::infinity();  // box relative to s_k^2 (C_k = c / s_k^2); inf: hard margin
  double resolution = 1e-4;   // relative margin below which a model may be reported as not separable
  double tol = 1e-6;          // stopping tolerance on the maximal KKT violation (units of y f)
  std::int64_t max_iter = 0;  // per SVM; 0: max(10^6, 100 P) (ops::svm_default_max_iter)
  std::size_t workspace_bytes = std::size_t(1) << 30;  // cap on the chunk's Gram matrices and features
};

struct SvmStats {  // host values, one entry per model
  std::vector<double> margin;
  std::vector<double> closest_1pct, closest_5pct;
  std::vector<double> min_distance;
  std::vector<double> margin_bound;
  std::vector<int> separable;
  std::vector<int> iterations, converged;
};

// features: [K, P, N] f32 or f64 on ctx's device (hidden features of the training set);
// labels: i32 [P] (any device) in [0, classes) ({0, 1} for classes = 1).
SvmStats svm_max_margin(const Tensor& features, const Tensor& labels, int classes, const SvmOptions& options,
                        Context& ctx);

}  // namespace groove::metrics
