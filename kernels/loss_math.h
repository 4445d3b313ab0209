// Per-example loss math shared by the CPU and CUDA loss kernels (GROOVE_HD), written so the far
// tail stays exact: everything is computed from margins in double, with log1p/exp of the tail,
// never 1 - p. For each example it gives the loss, its natural log (so a mean loss of 1e-30 is
// still resolved: users watch log10 of the loss), and the gradient with respect to the logits.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/hostdevice.h"

namespace groove {

enum class LossKind : std::uint8_t { softmax_cross_entropy, logistic, hinge, squared_error };
inline constexpr int kNumLossKinds = 4;
inline constexpr const char* kLossNames[kNumLossKinds] = {"cross_entropy", "logistic", "hinge", "squared_error"};
static_assert(static_cast<int>(LossKind::squared_error) + 1 == kNumLossKinds, "update kLossNames");

namespace loss_math {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Binary labels: {0, 1} or {-1, +1} -> -1 / +1.
GROOVE_HD inline double binary_sign(std::int32_t label) {
  return label > 0 ? 1.0 : -1.0;
}

// softplus(-m) = log(1 + e^-m), and its log, for a margin m. Exact in both tails.
GROOVE_HD inline double softplus_neg(double m) {
  return m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m));
}
GROOVE_HD inline double log_softplus_neg(double m) {
  if (m > 700) return -m;  // log(log1p(e^-m)) = -m + log1p(-e^-m/2 + ...) = -m to double precision
  return log(softplus_neg(m));
}
// sigma(-m) = 1 / (1 + e^m) without cancellation.
GROOVE_HD inline double sigmoid_neg(double m) {
  if (m > 0) {
    const double e = exp(-m);
    return e / (1 + e);
  }
  return 1 / (1 + exp(m));
}

// Binary logistic loss of output f for label y in {-1, +1}: l = log(1 + e^{-y f}),
// dl/df = -y sigma(-y f) (never sigma(f) - y, which is exactly 0 in fp32 beyond margin ~17).
GROOVE_HD inline void logistic(double f, double y, double& loss, double& log_loss, double& grad) {
  const double m = y * f;
  loss = softplus_neg(m);
  log_loss = log_softplus_neg(m);
  grad = -y * sigmoid_neg(m);
}

// Binary hinge loss max(0, margin - y f); gradient -y inside the margin, 0 outside.
GROOVE_HD inline void hinge(double f, double y, double margin, double& loss, double& log_loss, double& grad) {
  const double m = y * f;
  loss = m < margin ? margin - m : 0.0;
  log_loss = loss > 0 ? log(loss) : kNegInf;
  grad = m < margin ? -y : 0.0;
}

// Softmax cross-entropy of a row f[0..c) with true class y, from the margins z_j = f_j - f_y:
//   l = log(1 + S), S = sum_{j != y} e^{z_j};  dl/df_j = e^{z_j - l} (j != y);
//   dl/df_y = -(sum of the other probabilities) = -e^{log S - l}  (never p_y - 1).
// `grad` may be null (forward only). T is the logits' type.
template <typename T>
GROOVE_HD inline void cross_entropy(const T* f, std::int64_t c, std::int32_t y, double& loss, double& log_loss,
                                    T* grad) {
  const double fy = static_cast<double>(f[y]);
  double zmax = kNegInf;
  for (std::int64_t j = 0; j < c; ++j) {
    if (j != y) zmax = fmax(zmax, static_cast<double>(f[j]) - fy);
  }
  double sum = 0;
  for (std::int64_t j = 0; j < c; ++j) {
    if (j != y) sum += exp(static_cast<double>(f[j]) - fy - zmax);
  }
  const double log_s = zmax + log(sum);  // log S
  // l = log1p(S) = softplus(log S), evaluated stably for either sign of log S.
  loss = softplus_neg(-log_s);
  log_loss = log_softplus_neg(-log_s);
  if (grad) {
    for (std::int64_t j = 0; j < c; ++j) {
      if (j != y) grad[j] = static_cast<T>(exp(static_cast<double>(f[j]) - fy - loss));
    }
    grad[y] = static_cast<T>(-exp(log_s - loss));
  }
}

// Multi-class hinge (Crammer-Singer): l = max(0, margin - (f_y - max_{j != y} f_j)).
template <typename T>
GROOVE_HD inline void multiclass_hinge(const T* f, std::int64_t c, std::int32_t y, double margin, double& loss,
                                       double& log_loss, T* grad) {
  std::int64_t best = -1;
  for (std::int64_t j = 0; j < c; ++j) {
    if (j != y && (best < 0 || f[j] > f[best])) best = j;
  }
  const double m = static_cast<double>(f[y]) - static_cast<double>(f[best]);
  loss = m < margin ? margin - m : 0.0;
  log_loss = loss > 0 ? log(loss) : kNegInf;
  if (grad) {
    for (std::int64_t j = 0; j < c; ++j) grad[j] = T(0);
    if (m < margin) {
      grad[y] = T(-1);
      grad[best] = T(1);
    }
  }
}

// Squared error 1/2 sum_c (f_c - t_c)^2 with gradient f - t.
template <typename T>
GROOVE_HD inline void squared_error(const T* f, const T* t, std::int64_t c, double& loss, double& log_loss, T* grad) {
  double s = 0;
  for (std::int64_t j = 0; j < c; ++j) {
    const double d = static_cast<double>(f[j]) - static_cast<double>(t[j]);
    s += d * d;
    if (grad) grad[j] = static_cast<T>(d);
  }
  loss = 0.5 * s;
  log_loss = loss > 0 ? log(loss) : kNegInf;
}

// One example: dispatches on the loss kind. `target` is used by squared error (null: the one-hot
// label, or +-1 for C = 1); `grad` may be null.
template <typename T>
GROOVE_HD inline void example_loss(LossKind kind, double margin, const T* f, std::int64_t c, std::int32_t label,
                                   const T* target, double& loss, double& log_loss, T* grad) {
  double g = 0;
  switch (kind) {
    case LossKind::softmax_cross_entropy:
      cross_entropy(f, c, label, loss, log_loss, grad);
      return;
    case LossKind::logistic:
      logistic(static_cast<double>(f[0]), binary_sign(label), loss, log_loss, g);
      if (grad) grad[0] = static_cast<T>(g);
      return;
    case LossKind::hinge:
      if (c == 1) {
        hinge(static_cast<double>(f[0]), binary_sign(label), margin, loss, log_loss, g);
        if (grad) grad[0] = static_cast<T>(g);
      } else {
        multiclass_hinge(f, c, label, margin, loss, log_loss, grad);
      }
      return;
    case LossKind::squared_error:
      if (target) {
        squared_error(f, target, c, loss, log_loss, grad);
      } else {
        double s = 0;
        for (std::int64_t j = 0; j < c; ++j) {
          const double t = c == 1 ? binary_sign(label) : (j == label ? 1.0 : 0.0);
          const double d = static_cast<double>(f[j]) - t;
          s += d * d;
          if (grad) grad[j] = static_cast<T>(d);
        }
        loss = 0.5 * s;
        log_loss = loss > 0 ? log(loss) : kNegInf;
      }
      return;
  }
}

// Running log-sum-exp (max, scaled sum) pairs: associative, so a fixed combine tree is
// deterministic. Used to average losses in log space.
struct LogSumExp {
  double max;
  double sum;  // sum of e^{x - max}
};
GROOVE_HD inline LogSumExp lse_init() {
  return {kNegInf, 0.0};
}
GROOVE_HD inline LogSumExp lse_add(LogSumExp a, double x) {
  if (x == kNegInf) return a;
  if (x <= a.max) return {a.max, a.sum + exp(x - a.max)};
  return {x, a.sum * exp(a.max - x) + 1.0};
}
GROOVE_HD inline LogSumExp lse_combine(LogSumExp a, LogSumExp b) {
  if (b.max == kNegInf) return a;
  if (a.max == kNegInf) return b;
  if (a.max >= b.max) return {a.max, a.sum + b.sum * exp(b.max - a.max)};
  return {b.max, b.sum + a.sum * exp(a.max - b.max)};
}
GROOVE_HD inline double lse_value(LogSumExp a) {
  return a.max == kNegInf ? kNegInf : a.max + log(a.sum);
}

}  // namespace loss_math
}  // namespace groove
