// Representation probes on the hidden features of an ensemble, for all K models at once on the
// context's device: ridge and logistic linear probes, Fisher discriminants, representational
// similarity (RSM, RSA) and kernel-target alignment. Exact definitions: docs/metrics.md and the
// comment of each function. Notation: per model k, H [P, N] = train_features[k] (P examples, N
// units), mu = the mean row of H, Hc = H - 1 mu^T, tr(S) = ||Hc||_F^2 / P (S: the feature
// covariance), C = max(classes, 2), G = groups.
//
// Everything runs in f64 on the device, composed from ops::gemm, ops::reduce, the elementwise ops
// and kernels/linalg_ops.h; the host reads only the per-model results (and reads the shared
// labels once, to size the per-set problems and pick primal or dual forms). Linear systems use
// the primal form (size N) or the dual form (size n, the number of examples) by
// ProbeOptions::form, automatic = the smaller (primal when N <= n); both give the same result.
// Models run in chunks whose device workspace stays below ProbeOptions::max_workspace_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove::metrics {

struct ProbeSet {
  Tensor train_features;  // [K, P, N] f32 or f64 on the device: hidden features of the training set
  Tensor train_labels;    // i32 [P] in [0, classes) (host or device)
  Tensor test_features;   // [K, Q, N] hidden features of held-out examples (may be undefined: Q = 0)
  Tensor test_labels;     // i32 [Q] (host or device)
  Tensor test_groups;     // i32 [Q] in [0, groups): held-out group of each example (host or device)
  int classes = 2;        // 1 (binary scalar output) is treated as 2
  int groups = 0;
};

enum class ProbeForm : std::uint8_t { automatic, primal, dual };

struct ProbeOptions {
  ProbeForm form = ProbeForm::automatic;
  // Models are processed in chunks whose device workspace stays below this (at least one model).
  std::size_t max_workspace_bytes = std::size_t(1) << 30;
  // ridge / logistic: also return the weights; fisher: the discriminant directions.
  bool keep_weights = false;
};

// ridge_probe: targets t_p = +1 / -1 for label 1 / 0 (C = 2, one output) or the one-hot rows
// (C > 2, C outputs), tbar their mean. W = argmin ||(T - 1 tbar^T) - Hc W||_F^2 + alpha ||W||_F^2 with
// alpha = lambda * tr(Hc^T Hc) / N = lambda * P * tr(S) / N (alpha = lambda when tr(S) = 0), i.e.
// W = (Hc^T Hc + alpha I)^{-1} Hc^T (T - 1 tbar^T) (primal) = Hc^T (Hc Hc^T + alpha I)^{-1} (T - 1 tbar^T)
// (dual). Logits of an example x: f(x) = (x - mu) W + tbar; class 1 iff f > 0 (C = 2), else the
// first argmax. Invariant to feature scaling H -> c H and translation H -> H + 1 v^T.
struct RidgeProbeResult {
  std::vector<double> alpha;           // [K] the ridge added to the Gram diagonal
  std::vector<std::int32_t> info;      // [K] 0, or the failed Cholesky pivot + 1 (accuracies are then NaN)
  std::vector<double> train_accuracy;  // [K]
  std::vector<double> test_accuracy;   // [K] (NaN when Q = 0)
  std::vector<double> group_accuracy;  // [K * G] row-major: model k, group g (NaN for an empty group)
  Tensor weights;                      // keep_weights: f64 [K, N, C'] on the device, f(x) = x W + intercept
  Tensor intercept;                    // keep_weights: f64 [K, C'] (= tbar - mu W)
};

// logistic_probe: standardized features z = (x - mu) / sigma with sigma^2 = tr(S) / N (the mean
// squared centered feature; sigma = 1 when it is 0). Minimizes, over u [N, C'] and b [C'],
//   F(u, b) = (1/P) sum_p loss(z_p u + b, label_p) + (lambda / 2) ||u||_F^2
// with the binary logistic loss softplus(-s f) (C = 2, one output, s = +1 for label 1, -1 for 0)
// or the softmax cross-entropy (C > 2). Solver: FISTA (Nesterov-accelerated gradient) from u = 0,
// b = 0 with gradient-based restart; the step 1/L uses L = the largest directional curvature bound
// seen, (c ||Z g_u + 1 g_b^T||^2 / P + lambda ||g_u||^2) / ||g||^2 with c = 1/4 (binary) or 1/2
// (softmax) bounding the loss Hessian in logit space, which guarantees the descent condition of
// every step. Stops when ||grad F(u, b)||_2 <= tol (over u and b) or after max_iter steps.
// Deterministic. Invariant to feature scaling and translation.
struct LogisticProbeResult {
  std::vector<double> train_accuracy;    // [K]
  std::vector<double> test_accuracy;     // [K] (NaN when Q = 0)
  std::vector<double> test_log_loss;     // [K] mean loss over the held-out examples (NaN when Q = 0)
  std::vector<double> group_accuracy;    // [K * G] row-major
  std::vector<std::int32_t> iterations;  // [K] steps taken
  std::vector<std::uint8_t> converged;   // [K] 1 when the gradient norm reached tol
  std::vector<double> grad_norm;         // [K] ||grad F|| at the returned solution
  std::vector<double> scale;             // [K] sigma
  Tensor weights;    // keep_weights: f64 [K, N, C'] in raw units: logits = x W + intercept (W = u / sigma)
  Tensor intercept;  // keep_weights: f64 [K, C'] (= b - mu W)
};

// fisher: comparison sets s = 0 ("train": the training examples of the other classes, pooled)
// and s = 1 + g (the held-out examples of group g), each against the training examples of
// `target_class`. With n_t, n_o the two set sizes, n = n_t + n_o, mu_t, mu_o the set means,
//   d = mu_t - mu_o,  S_w = (sum_{p in target} (x_p - mu_t)(x_p - mu_t)^T + sum_{p in other} (x_p - mu_o)(...)^T) / n,
//   lambda = ridge * tr(S_w) / N (lambda = ridge when tr(S_w) = 0),
//   w = (S_w + lambda I)^{-1} d,  J = d^T w,
// w is the top eigenvector of (S_w + lambda I)^{-1} S_b for S_b = d d^T, with eigenvalue J. Dual
// form: J = (||d||^2 - v^T (D D^T + n lambda I)^{-1} v) / lambda, v = D d, D the n x N stacked
// centered rows. Entries are NaN for an empty set (or a failed factorization: info != 0).
// J is invariant to feature scaling and translation.
struct FisherResult {
  std::int64_t sets = 0;                   // 1 + G
  std::vector<double> criterion;           // [K * sets] J
  std::vector<double> centroid_distance;   // [K * sets] ||d||
  std::vector<double> within_variance;     // [K * sets] tr(S_w)
  std::vector<double> lambda;              // [K * sets]
  std::vector<std::int32_t> info;          // [K * sets] Cholesky info (0 = ok)
  std::vector<std::int64_t> target_count;  // [sets] n_t
  std::vector<std::int64_t> other_count;   // [sets] n_o
  Tensor directions;                       // keep_weights: f64 [K, sets, N] w on the device
};

RidgeProbeResult ridge_probe(const ProbeSet& set, double lambda, Context& ctx, const ProbeOptions& options = {});

LogisticProbeResult logistic_probe(const ProbeSet& set, double lambda, int max_iter, double tol, Context& ctx,
                                   const ProbeOptions& options = {});

FisherResult fisher(const ProbeSet& set, int target_class, double ridge, Context& ctx,
                    const ProbeOptions& options = {});

// The representational similarity matrix, host f64 [K, M, M] with M = C + G: the mean vectors
// m_0..m_{C-1} of the training classes, then m_C..m_{C+G-1} of the held-out groups; entry (i, j)
// is the Pearson correlation across the N units,
//   sum_n (m_i[n] - mean(m_i)) (m_j[n] - mean(m_j)) / sqrt(sum_n (m_i[n] - mean(m_i))^2 sum_n (...j)^2),
// with 1 on the diagonal; NaN in the rows / columns of an empty class or group or of a mean
// vector that is constant across units.
Tensor rsm(const ProbeSet& set, Context& ctx, const ProbeOptions& options = {});

// Spearman rank correlation, per model, between the upper triangles (i < j) of the model's
// dissimilarity 1 - rsm[k] and of `reference`, a host dissimilarity matrix [M, M] (f32 / f64,
// symmetric, finite). Ranks of ties are averaged; the result is the Pearson correlation of the
// ranks: NaN when a model's entries contain NaN or either side is constant, or M < 3.
std::vector<double> rsa_spearman(const Tensor& rsm, const Tensor& reference);

// Kernel-target alignment of the (uncentered) linear kernel K = H H^T of features [K, P, N]:
//   A = <K, Y Y^T>_F / (||K||_F ||Y Y^T||_F)
// with Y = y in {+1, -1}^P (label 1 / 0; then A = y^T K y / (||K||_F ||y||^2)) for C = 2, or the
// one-hot [P, C] for C > 2. Computed as ||H^T Y||_F^2 / (||G||_F ||Y^T Y||_F) with G = H^T H
// (primal) or H H^T (dual): P x P is never formed when N < P. Invariant to feature scaling.
std::vector<double> kernel_alignment(const Tensor& features, const Tensor& labels, int classes, Context& ctx,
                                     const ProbeOptions& options = {});

}  // namespace groove::metrics
