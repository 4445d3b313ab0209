// Batched dense linear algebra in f64 for the representation probes (metrics/probes.h), and the
// small per-model kernels the probes compose with ops::gemm and ops::reduce: a Cholesky
// factorization and solve of K symmetric positive definite systems, a relative ridge on the
// diagonal, a row gather that converts features to f64, classification scores (accuracy per
// group, log-loss) and the steps of the accelerated logistic-regression solver.
//
// Every op validates its arguments (errors name the tensor), runs on the context's device
// (kernels/cpu/linalg.cpp, kernels/cuda/linalg.cu: one CUDA block per model, fixed-order
// reductions accumulated in double, no atomics) and never synchronizes with the host: per-model
// failures are reported through device outputs (the i32 `info` of the factorization). The
// per-element and per-iteration math is written once below (GROOVE_HD), for both backends.
#pragma once

#include <groove/config.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/context.h"
#include "runtime/hostdevice.h"
#include "runtime/tensor.h"

namespace groove {

// ---------------------------------------------------------------------------------------------
// Shared math (host and device)

namespace linalg_math {

// Panel width of the blocked Cholesky factorization (columns factored together).
inline constexpr int kCholeskyPanel = 16;

// A Cholesky pivot is accepted when it is > 0 (zero, negative and NaN pivots fail).
GROOVE_HD inline bool pivot_ok(double d) {
  return d > 0.0;
}

// The relative ridge added to a Gram matrix diagonal: rel * trace / denom, or `fallback` when the
// trace is exactly 0 (all features constant). NaN and negative traces propagate (the pivot fails).
GROOVE_HD inline double relative_ridge(double trace, double rel, double denom, double fallback) {
  return trace == 0.0 ? fallback : rel * trace / denom;
}

// log(1 + exp(x)) without overflow.
GROOVE_HD inline double softplus(double x) {
  return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

// Logistic sigmoid without overflow.
GROOVE_HD inline double sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const double z = exp(x);
  return z / (1.0 + z);
}

// The loss of one row of logits f[0..outputs) for an integer label:
//   outputs == 1 (binary): softplus(-s f) with s = +1 for label 1, -1 otherwise (label 0);
//   outputs >= 2 (softmax): logsumexp(f) - f[label].
GROOVE_HD inline double row_log_loss(const double* f, std::int64_t outputs, std::int32_t label) {
  if (outputs == 1) return softplus(label == 1 ? -f[0] : f[0]);
  double m = f[0];
  for (std::int64_t c = 1; c < outputs; ++c) m = f[c] > m ? f[c] : m;
  double s = 0.0;
  for (std::int64_t c = 0; c < outputs; ++c) s += exp(f[c] - m);
  return m + log(s) - f[label];
}

// r = scale * d(row_log_loss)/df: binary -s * sigmoid(-s f); softmax softmax(f) - onehot(label).
GROOVE_HD inline void row_loss_gradient(double* r, const double* f, std::int64_t outputs, std::int32_t label,
                                        double scale) {
  if (outputs == 1) {
    const double s = label == 1 ? 1.0 : -1.0;
    r[0] = -s * sigmoid(-s * f[0]) * scale;
    return;
  }
  double m = f[0];
  for (std::int64_t c = 1; c < outputs; ++c) m = f[c] > m ? f[c] : m;
  double z = 0.0;
  for (std::int64_t c = 0; c < outputs; ++c) z += exp(f[c] - m);
  for (std::int64_t c = 0; c < outputs; ++c) r[c] = (exp(f[c] - m) / z - (c == label ? 1.0 : 0.0)) * scale;
}

// Predicted class of one row: binary 1 if f > 0 else 0; softmax the first maximum.
GROOVE_HD inline std::int32_t row_prediction(const double* f, std::int64_t outputs) {
  if (outputs == 1) return f[0] > 0.0 ? 1 : 0;
  std::int64_t best = 0;
  for (std::int64_t c = 1; c < outputs; ++c) best = f[c] > f[best] ? c : best;
  return static_cast<std::int32_t>(best);
}

GROOVE_HD inline bool row_has_nan(const double* f, std::int64_t outputs) {
  for (std::int64_t c = 0; c < outputs; ++c) {
    if (f[c] != f[c]) return true;
  }
  return false;
}

// Accuracy from counts: correct / count, NaN for an empty selection or when a logit was NaN.
GROOVE_HD inline double accuracy_of(double correct, double count, double nan_rows) {
  return (count > 0.0 && nan_rows == 0.0) ? correct / count : std::numeric_limits<double>::quiet_NaN();
}

// The logistic solver's per-model state, field-major in an f64 [kLogisticFields, K] tensor.
enum LogisticField : int {
  kLogisticL = 0,         // the step is 1/L; L is the largest directional curvature bound seen
  kLogisticT = 1,         // FISTA momentum counter t (1 after a restart)
  kLogisticStatus = 2,    // 0 running, 1 converged (gradient norm <= tol), 2 stopped (no valid step)
  kLogisticIters = 3,     // steps taken
  kLogisticGradNorm = 4,  // gradient norm at the last extrapolated point
  kLogisticFields = 5,
};

// FISTA: t' = (1 + sqrt(1 + 4 t^2)) / 2, momentum beta = (t - 1) / t'.
GROOVE_HD inline double fista_next_t(double t) {
  return 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
}

// One parameter of a FISTA step with gradient g at the extrapolated point y and current iterate w:
// w' = y - g / L, y' = w' + beta (w' - w).
GROOVE_HD inline void fista_element(double& w, double& y, double g, double inv_l, double beta) {
  const double next = y - g * inv_l;
  y = next + beta * (next - w);
  w = next;
}

// The directional curvature bound along the gradient g: (curvature ||Z g||^2 + lambda ||g_w||^2) /
// ||g||^2, where curvature bounds the Hessian of the mean loss in logit space (see logistic_update).
GROOVE_HD inline double directional_curvature(double curvature, double zg_sq, double lambda, double gw_sq,
                                              double g_sq) {
  return (curvature * zg_sq + lambda * gw_sq) / g_sq;
}

// The step's L: the larger of the previous L and the new directional bound (NaN when the bound is
// NaN, which stops the model).
GROOVE_HD inline double next_lipschitz(double l_prev, double l_dir) {
  return l_prev > l_dir ? l_prev : l_dir;
}

}  // namespace linalg_math

// ---------------------------------------------------------------------------------------------
// Ops

namespace ops {

// Cholesky factorization of K symmetric positive definite matrices a [K, n, n] (f64). Only the
// upper triangle of a (j >= i) is read. factor [K, n, n] receives U, upper triangular with
// U^T U = A (the strict lower triangle is set to 0); factor may alias a (in place). info i32 [K]:
// 0 on success, else j + 1 for the first column j whose pivot is not > 0 (then that model's
// factor is all NaN: every output element is written, so results never depend on old memory).
// Blocked left-looking algorithm; every entry accumulates its updates in ascending order.
void cholesky_factor(Tensor& factor, Tensor& info, const Tensor& a, Context& ctx);

// x [K, n, m] = A^{-1} b from a factor of cholesky_factor (forward then backward substitution).
// b: [K, n, m] or shared [n, m]; x may alias a batched b. Models with info != 0 get NaN.
void cholesky_substitute(Tensor& x, const Tensor& factor, const Tensor& info, const Tensor& b, Context& ctx);

// x = A^{-1} b for K SPD systems: cholesky_factor into the context's workspace, then
// cholesky_substitute. a is not modified; info as in cholesky_factor (x is NaN where info != 0).
void cholesky_solve(Tensor& x, Tensor& info, const Tensor& a, const Tensor& b, Context& ctx);

// a[k] += alpha[k] I with alpha[k] = rel * trace(a[k]) / denom, or `fallback` when the trace is 0
// (linalg_math::relative_ridge). a: f64 [K, n, n]; alpha: f64 [K] (output).
void regularize_diagonal(Tensor& a, Tensor& alpha, double rel, double denom, double fallback, Context& ctx);

// Rows of the concatenation [x1[k]; x2[k]] converted to f64: y[k, i, :] = x1[k, index[i], :] when
// index[i] < P1, else x2[k, index[i] - P1, :]. x1 [K, P1, N], x2 [K, P2, N] (same dtype, f32 or
// f64; may be undefined: P2 = 0), index i32 [R] shared, y f64 [K, R, N]. Out-of-range indices:
// the CPU throws naming the first; CUDA writes NaN rows (as ops::gather_rows).
void gather_features(Tensor& y, const Tensor& x1, const Tensor& x2, const Tensor& index, Context& ctx);

// Classification scores of logits [K, R, C'] (f64; C' = 1 binary: class 1 iff logit > 0; C' >= 2:
// first argmax) against labels i32 [R]. accuracy f64 [K, 1 + G]: column 0 over all rows, column
// 1 + g over the rows with groups[r] == g (groups i32 [R]; undefined when G = 0). An accuracy is
// NaN when its selection is empty or holds a NaN logit. log_loss f64 [K] (or undefined): the mean
// of linalg_math::row_log_loss over all rows. Labels must lie in [0, max(C', 2)).
void classification_scores(Tensor& accuracy, Tensor& log_loss, const Tensor& logits, const Tensor& labels,
                           const Tensor& groups, Context& ctx);

// Logistic solver, step 0: state f64 [kLogisticFields, K] initialized (L = 0, t = 1, status 0,
// iterations 0, gradient norm NaN) and inv_scale f64 [K] = sqrt(count) / norm[k] (1 when norm is
// 0): the factor that standardizes centered features whose Frobenius norm is norm [K].
void logistic_setup(Tensor& state, Tensor& inv_scale, const Tensor& norm, double count, Context& ctx);

// r [K, R, C'] = scale * d(row_log_loss)/d(logits) for logits [K, R, C'] f64 and labels i32 [R].
void logistic_residual(Tensor& r, const Tensor& logits, const Tensor& labels, double scale, Context& ctx);

// One FISTA step of every running model (status 0) for min f(w, b) over w [K, N, C'], b [K, C']:
//   g = (gw, gb): the gradient at the extrapolated point (yw, yb); zg [K, R, C'] = Z gw + 1 gb^T.
//   If ||g|| <= tol: status = 1, iterations = `iteration`, (w, b) = (yw, yb). Otherwise, when
//   `step` (else nothing more): L = max(L, (curvature ||zg||^2 + lambda ||gw||^2) / ||g||^2) (a
//   valid bound on the curvature of f along g when curvature bounds the Hessian of the data term
//   in logit space), restart (t = 1) when g . (y - g / L - w) > 0, then w' = y - g / L,
//   y' = w' + (t - 1) / t' (w' - w), t = t', iterations = iteration + 1. No valid L: status 2.
void logistic_update(Tensor& state, Tensor& w, Tensor& b, Tensor& yw, Tensor& yb, const Tensor& gw, const Tensor& gb,
                     const Tensor& zg, std::int64_t iteration, bool step, double tol, double curvature, double lambda,
                     Context& ctx);

}  // namespace ops

// ---------------------------------------------------------------------------------------------
// Backend entry points (identical signatures in groove::cpu and groove::cuda). Pointers are on
// the context's device; matrices are row-major and contiguous per model.

// logistic_update's pointers and sizes.
struct LogisticStep {
  double* state = nullptr;  // [kLogisticFields, models]
  double* w = nullptr;      // [models, params_w]
  double* b = nullptr;      // [models, outputs]
  double* yw = nullptr;
  double* yb = nullptr;
  const double* gw = nullptr;
  const double* gb = nullptr;
  const double* zg = nullptr;  // [models, rows * outputs]
  std::int64_t models = 0, params_w = 0, outputs = 0, rows = 0;
  std::int64_t iteration = 0;
  bool step = true;
  double tol = 0, curvature = 0, lambda = 0;
};

#define GROOVE_LINALG_DECLARATIONS                                                                                     \
  void cholesky_factor(double* u, std::int32_t* info, const double* a, std::int64_t models, std::int64_t n,            \
                       Context& ctx);                                                                                  \
  /* b_stride: elements between the right-hand sides of consecutive models (0 = shared b) */                           \
  void cholesky_substitute(double* x, const double* u, const std::int32_t* info, const double* b,                      \
                           std::int64_t b_stride, std::int64_t models, std::int64_t n, std::int64_t m, Context& ctx);  \
  void regularize_diagonal(double* a, double* alpha, std::int64_t models, std::int64_t n, double rel, double denom,    \
                           double fallback, Context& ctx);                                                             \
  template <typename T>                                                                                                \
  void gather_features(double* y, const T* x1, const T* x2, const std::int32_t* index, std::int64_t models,            \
                       std::int64_t p1, std::int64_t p2, std::int64_t rows, std::int64_t cols, Context& ctx);          \
  void classification_scores(double* accuracy, double* log_loss, const double* logits, const std::int32_t* labels,     \
                             const std::int32_t* groups, std::int64_t models, std::int64_t rows, std::int64_t outputs, \
                             std::int64_t n_groups, Context& ctx);                                                     \
  void logistic_setup(double* state, double* inv_scale, const double* norm, std::int64_t models, double count,         \
                      Context& ctx);                                                                                   \
  void logistic_residual(double* r, const double* logits, const std::int32_t* labels, std::int64_t models,             \
                         std::int64_t rows, std::int64_t outputs, double scale, Context& ctx);                         \
  void logistic_update(const LogisticStep& s, Context& ctx);

namespace cpu {
GROOVE_LINALG_DECLARATIONS
}  // namespace cpu

#if GROOVE_WITH_CUDA
namespace cuda {
GROOVE_LINALG_DECLARATIONS
}  // namespace cuda
#endif

#undef GROOVE_LINALG_DECLARATIONS

#define GROOVE_INSTANTIATE_GATHER_FEATURES(T)                                                                    \
  template void gather_features<T>(double*, const T*, const T*, const std::int32_t*, std::int64_t, std::int64_t, \
                                   std::int64_t, std::int64_t, std::int64_t, Context&);

}  // namespace groove
