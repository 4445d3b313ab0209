// Per-step training statistics: the kernels the metrics::Monitor runs inside a recorded training
// step, for all K models at once, ending in one row per model written into a device ring buffer
// (no host synchronization). Definitions of every column: docs/metrics.md.
//
// Where each op lives (forward / CPU kernel / CUDA kernel / test):
//   margins, class_means, sq_distances, param_norms, step_summary
//     kernels/stats_ops.cpp (validation)  kernels/cpu/stats.cpp  kernels/cuda/stats.cu
//     tests/metrics/test_step_stats.cpp (CPU against direct formulas)  tests/metrics/test_stats_cuda.cpp
// The per-model math both backends share is in this header (namespace groove::stats, GROOVE_HD).
#pragma once

#include <groove/config.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace groove {
namespace stats {

// Columns of a per-step row (f64). After the fixed columns: 2 per weight layer l (w{l}_norm,
// w{l}_move), then 4 per held-out group g ({g}_loss, {g}_log10_loss, {g}_acc, {g}_ncm_acc).
enum Column : int {
  kStep,
  kTrainLoss,
  kTrainLog10Loss,
  kTrainAcc,
  kMarginMin,
  kMarginMean,
  kMarginQ01,
  kMarginQ05,
  kMarginNormProd,    // margin_min / prod_l ||W_l||_F
  kMarginNormGlobal,  // margin_min / (sum_l ||W_l||_F^2)^(L/2)
  kMarginReadout,     // margin_min / ||W_L||_F
  kTrainNcmAcc,
  kCentroidDist,
  kWithinVar,
  kGradNorm,
  kWeightNorm,
  kHeldoutLoss,
  kHeldoutLog10Loss,
  kHeldoutAcc,
  kHeldoutNcmAcc,
  kFixedColumns
};
inline constexpr const char* kFixedColumnNames[kFixedColumns] = {
    "step",           "train_loss",    "train_log10_loss",   "train_acc",        "margin_min",
    "margin_mean",    "margin_q01",    "margin_q05",         "margin_norm_prod", "margin_norm_global",
    "margin_readout", "train_ncm_acc", "centroid_dist",      "within_var",       "grad_norm",
    "weight_norm",    "heldout_loss",  "heldout_log10_loss", "heldout_acc",      "heldout_ncm_acc"};
inline constexpr int kGroupColumns = 4;  // loss, log10_loss, acc, ncm_acc

GROOVE_HD inline int layer_column(int l) {
  return kFixedColumns + 2 * l;
}  // w{l}_norm; +1: w{l}_move
GROOVE_HD inline int group_column(int layers, int g) {
  return kFixedColumns + 2 * layers + kGroupColumns * g;
}
GROOVE_HD inline int row_columns(int layers, int groups) {
  return group_column(layers, groups);
}
// The names of all columns, in order.
std::vector<std::string> column_names(int layers, const std::vector<std::string>& groups);

// Output margin of one example: y f (C = 1, label 0/1 or -1/+1 -> y = -1/+1), or
// f_y - max_{j != y} f_j (C >= 2). Positive means correctly classified.
template <typename T>
GROOVE_HD inline double margin(const T* f, std::int64_t c, std::int32_t label) {
  if (c == 1) return (label > 0 ? 1.0 : -1.0) * static_cast<double>(f[0]);
  double other = -INFINITY;
  for (std::int64_t j = 0; j < c; ++j) {
    if (j != label && static_cast<double>(f[j]) > other) other = static_cast<double>(f[j]);
  }
  return static_cast<double>(f[label]) - other;
}

// The q-quantile of n ascending values with numpy's default (linear) interpolation.
GROOVE_HD inline double quantile_sorted(const double* sorted, std::int64_t n, double q) {
  if (n == 0) return NAN;
  const double h = q * static_cast<double>(n - 1);
  const std::int64_t lo = static_cast<std::int64_t>(floor(h));
  const std::int64_t hi = lo + 1 < n ? lo + 1 : lo;
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Index of the smallest of c values (the first one on ties).
GROOVE_HD inline std::int32_t argmin(const double* d, std::int64_t c) {
  std::int32_t best = 0;
  for (std::int64_t j = 1; j < c; ++j) {
    if (d[j] < d[best]) best = static_cast<std::int32_t>(j);
  }
  return best;
}

// Columns derived from the parameter norms: norms holds, per weight layer l, ||W_l||^2,
// ||W_l - W0_l||^2, ||W0_l||^2, then ||grad||^2 over every parameter.
GROOVE_HD inline void norm_columns(double* row, const double* norms, int layers) {
  double prod = 1, total = 0;
  for (int l = 0; l < layers; ++l) {
    const double w2 = norms[3 * l], d2 = norms[3 * l + 1], w02 = norms[3 * l + 2];
    row[layer_column(l)] = sqrt(w2);
    row[layer_column(l) + 1] = w02 > 0 ? sqrt(d2 / w02) : NAN;
    prod *= sqrt(w2);
    total += w2;
  }
  const double m = row[kMarginMin];
  row[kMarginNormProd] = m / prod;
  row[kMarginNormGlobal] = m / pow(total, 0.5 * layers);
  row[kMarginReadout] = layers > 0 ? m / sqrt(norms[3 * (layers - 1)]) : NAN;
  row[kGradNorm] = sqrt(norms[3 * layers]);
  row[kWeightNorm] = sqrt(total);
}

// One projected signed-gradient ascent step of an L-infinity attack: the perturbation moves by
// step_size * sign(grad) and is clipped to [-epsilon, epsilon].
template <typename T>
GROOVE_HD inline T pgd_update(T delta, T grad, T step_size, T epsilon) {
  const T s = grad > T(0) ? T(1) : (grad < T(0) ? T(-1) : T(0));
  const T d = delta + step_size * s;
  return d > epsilon ? epsilon : (d < -epsilon ? -epsilon : d);
}

// log10 of the mean of n values whose natural logs were accumulated in `lse`.
GROOVE_HD inline double log10_mean(double lse_value, std::int64_t n) {
  return n > 0 ? (lse_value - log(static_cast<double>(n))) * 0.43429448190325182765 : NAN;
}

}  // namespace stats

namespace ops {

// margins[k, i] (f64 [K, n]) of logits [K, n, C] against labels i32 [n] (stats::margin).
void margins(Tensor& out, const Tensor& logits, const Tensor& labels, Context& ctx);

// means[k, c, :] = mean of features[k, i, :] over the rows with classes[i] == c, for c < C
// (zero for a class without rows). features [K, n, N]; classes i32 [n] in [0, C); means [K, C, N].
void class_means(Tensor& means, const Tensor& features, const Tensor& classes, Context& ctx);

// out[k, i, c] (f64 [K, n, C]) = ||features[k, i, :] - means[k, c, :]||^2.
void sq_distances(Tensor& out, const Tensor& features, const Tensor& means, Context& ctx);

// out (f64 [K, 3 L + 1]): for each weight segment l of `weights` (segments into `values` and
// `initial`, flat [numel]): ||w||^2, ||w - w0||^2, ||w0||^2; then ||grads||^2 over all of `grads`
// (per model: the segments of `all`), or NaN when grads is undefined.
void param_norms(Tensor& out, const Tensor& values, const Tensor& initial, const Tensor& grads,
                 const ParamSegments& weights, const ParamSegments& all, Context& ctx);

// delta = clip(delta + step_size * sign(grad), -epsilon, epsilon), elementwise (stats::pgd_update).
void pgd_step(Tensor& delta, const Tensor& grad, double step_size, double epsilon, Context& ctx);

struct StepSummaryInputs {
  Tensor train_margins;                    // f64 [K, P]
  Tensor train_classes;                    // i32 [P] in [0, C)
  Tensor train_loss, train_log10_loss;     // [K]
  Tensor train_dist;                       // f64 [K, P, C], or undefined (no features)
  Tensor means;                            // [K, C, N] (same dtype as the features), or undefined
  Tensor heldout_margins;                  // f64 [K, Q], or undefined (no held-out examples)
  Tensor heldout_classes, heldout_groups;  // i32 [Q]: class in [0, C), group in [0, G)
  Tensor heldout_per_example;              // f64 [2, K, Q]: loss and its natural log (ops::loss_forward)
  Tensor heldout_dist;                     // f64 [K, Q, C], or undefined
  Tensor norms;                            // f64 [K, 3 L + 1] (param_norms)
  Tensor step;                             // i32 [1]: the step counter
  int layers = 0;
  int groups = 0;
  std::int64_t every = 1;  // rows are written at slot (step / every) % R
};

// Assembles each model's row (stats::Column layout) and writes it into rows (f64 [R, K, M]) at
// slot (step / every) % R, and the margins (train then held-out, f32) into margins_ring
// ([R, K, P + Q], or undefined). scratch: f64 [K, P2] with P2 >= P (sorting the margins).
void step_summary(Tensor& rows, Tensor& margins_ring, Tensor& scratch, const StepSummaryInputs& in, Context& ctx);

}  // namespace ops

// Backend entry points (identical in groove::cpu and groove::cuda).
struct StepSummaryArgs {
  const double* train_margins = nullptr;
  const std::int32_t* train_classes = nullptr;
  const void* train_loss = nullptr;
  const void* train_log10_loss = nullptr;
  bool loss_f64 = false;
  const double* train_dist = nullptr;
  const void* means = nullptr;
  bool means_f64 = false;
  const double* heldout_margins = nullptr;
  const std::int32_t* heldout_classes = nullptr;
  const std::int32_t* heldout_groups = nullptr;
  const double* heldout_per_example = nullptr;
  const double* heldout_dist = nullptr;
  const double* norms = nullptr;
  const std::int32_t* step = nullptr;
  double* rows = nullptr;
  float* margins_ring = nullptr;
  double* scratch = nullptr;
  std::int64_t models = 1, train = 0, classes = 2, features = 0, heldout = 0, ring_rows = 1, every = 1,
               scratch_stride = 0;
  int layers = 0, groups = 0;
};

#define GROOVE_STATS_DECLARATIONS                                                                                     \
  template <typename T>                                                                                               \
  void margins(double* out, const T* logits, const std::int32_t* labels, std::int64_t models, std::int64_t n,         \
               std::int64_t classes, Context& ctx);                                                                   \
  template <typename T>                                                                                               \
  void class_means(T* means, const T* features, const std::int32_t* classes, std::int64_t models, std::int64_t n,     \
                   std::int64_t dim, std::int64_t n_classes, Context& ctx);                                           \
  template <typename T>                                                                                               \
  void sq_distances(double* out, const T* features, const T* means, std::int64_t models, std::int64_t n,              \
                    std::int64_t dim, std::int64_t n_classes, Context& ctx);                                          \
  template <typename T>                                                                                               \
  void param_norms(double* out, const T* values, const T* initial, const T* grads, const ops::ParamSegments& weights, \
                   const ops::ParamSegments& all, Context& ctx);                                                      \
  void step_summary(const StepSummaryArgs& a, Context& ctx);                                                          \
  template <typename T>                                                                                               \
  void pgd_step(T* delta, const T* grad, std::int64_t n, T step_size, T epsilon, Context& ctx);

namespace cpu {
GROOVE_STATS_DECLARATIONS
}  // namespace cpu
#if GROOVE_WITH_CUDA
namespace cuda {
GROOVE_STATS_DECLARATIONS
}  // namespace cuda
#endif
#undef GROOVE_STATS_DECLARATIONS

#define GROOVE_INSTANTIATE_STATS(T)                                                                                  \
  template void margins<T>(double*, const T*, const std::int32_t*, std::int64_t, std::int64_t, std::int64_t,         \
                           Context&);                                                                                \
  template void class_means<T>(T*, const T*, const std::int32_t*, std::int64_t, std::int64_t, std::int64_t,          \
                               std::int64_t, Context&);                                                              \
  template void sq_distances<T>(double*, const T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                Context&);                                                                           \
  template void param_norms<T>(double*, const T*, const T*, const T*, const ops::ParamSegments&,                     \
                               const ops::ParamSegments&, Context&);                                                 \
  template void pgd_step<T>(T*, const T*, std::int64_t, T, T, Context&);

}  // namespace groove
