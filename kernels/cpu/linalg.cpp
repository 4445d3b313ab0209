// CPU kernels of kernels/linalg_ops.h: blocked Cholesky factorization and substitution, the
// relative ridge, the f64 feature gather, classification scores and the logistic solver steps.
// Models run in parallel with OpenMP; within a model every sum is sequential, in the order the
// CUDA twins (kernels/cuda/linalg.cu) use for the Cholesky and the diagonal; shared math:
// linalg_math in kernels/linalg_ops.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/linalg_ops.h"

namespace groove::cpu {

namespace {
using linalg_math::kCholeskyPanel;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One model: U (row-major, upper) with U^T U = A, reading A's upper triangle. Panels of
// kCholeskyPanel rows: first every entry (j, i >= j) of the panel subtracts U[p][j] U[p][i] for
// the finished rows p < j0 in ascending p, then the panel is factored row by row (right-looking
// within the panel, again ascending p). Returns 0 or the failed column + 1.
std::int32_t factor_one(double* u, const double* a, std::int64_t n) {
  for (std::int64_t j0 = 0; j0 < n; j0 += kCholeskyPanel) {
    const std::int64_t jb = std::min<std::int64_t>(kCholeskyPanel, n - j0);
    for (std::int64_t c = 0; c < jb; ++c) {
      const std::int64_t j = j0 + c;
      for (std::int64_t i = j; i < n; ++i) u[j * n + i] = a[j * n + i];
    }
    for (std::int64_t p = 0; p < j0; ++p) {
      const double* up = u + p * n;
      for (std::int64_t c = 0; c < jb; ++c) {
        const std::int64_t j = j0 + c;
        const double coef = up[j];
        double* uj = u + j * n;
        for (std::int64_t i = j; i < n; ++i) uj[i] -= coef * up[i];
      }
    }
    for (std::int64_t c = 0; c < jb; ++c) {
      const std::int64_t j = j0 + c;
      double* uj = u + j * n;
      const double d = uj[j];
      if (!linalg_math::pivot_ok(d)) return static_cast<std::int32_t>(j + 1);
      const double r = std::sqrt(d);
      uj[j] = r;
      for (std::int64_t i = j + 1; i < n; ++i) uj[i] = uj[i] / r;
      for (std::int64_t c2 = c + 1; c2 < jb; ++c2) {
        const std::int64_t j2 = j0 + c2;
        const double coef = uj[j2];
        double* u2 = u + j2 * n;
        for (std::int64_t i = j2; i < n; ++i) u2[i] -= coef * uj[i];
      }
    }
    for (std::int64_t c = 0; c < jb; ++c) {
      const std::int64_t j = j0 + c;
      for (std::int64_t i = 0; i < j; ++i) u[j * n + i] = 0.0;
    }
  }
  return 0;
}

// One model: x (n x m, holding b) <- A^{-1} x with U^T U = A. Forward: U^T y = b, entry r subtracts
// U[p][r] y_p for ascending p < r, then divides by U[r][r]. Backward: U x = y, entry r subtracts
// U[r][p] x_p for descending p > r, then divides.
void substitute_one(double* x, const double* u, std::int64_t n, std::int64_t m) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double piv = u[i * n + i];
    double* xi = x + i * m;
    for (std::int64_t c = 0; c < m; ++c) xi[c] = xi[c] / piv;
    for (std::int64_t r = i + 1; r < n; ++r) {
      const double coef = u[i * n + r];
      double* xr = x + r * m;
      for (std::int64_t c = 0; c < m; ++c) xr[c] -= coef * xi[c];
    }
  }
  for (std::int64_t i = n - 1; i >= 0; --i) {
    double* xi = x + i * m;
    for (std::int64_t p = n - 1; p > i; --p) {
      const double coef = u[i * n + p];
      const double* xp = x + p * m;
      for (std::int64_t c = 0; c < m; ++c) xi[c] -= coef * xp[c];
    }
    const double piv = u[i * n + i];
    for (std::int64_t c = 0; c < m; ++c) xi[c] = xi[c] / piv;
  }
}
}  // namespace

void cholesky_factor(double* u, std::int32_t* info, const double* a, std::int64_t models, std::int64_t n, Context&) {
#pragma omp parallel for schedule(dynamic, 1) if (models > 1 && models * n * n * n >= kParallelElements)
  for (std::int64_t k = 0; k < models; ++k) {
    info[k] = factor_one(u + k * n * n, a + k * n * n, n);
    if (info[k] != 0) std::fill(u + k * n * n, u + (k + 1) * n * n, std::numeric_limits<double>::quiet_NaN());
  }
}

void cholesky_substitute(double* x, const double* u, const std::int32_t* info, const double* b, std::int64_t b_stride,
                         std::int64_t models, std::int64_t n, std::int64_t m, Context&) {
#pragma omp parallel for schedule(dynamic, 1) if (models > 1 && models * n * n * m >= kParallelElements)
  for (std::int64_t k = 0; k < models; ++k) {
    double* xk = x + k * n * m;
    const double* bk = b + k * b_stride;
    if (info[k] != 0) {
      std::fill(xk, xk + n * m, kNaN);
      continue;
    }
    if (xk != bk) std::copy(bk, bk + n * m, xk);
    substitute_one(xk, u + k * n * n, n, m);
  }
}

void regularize_diagonal(double* a, double* alpha, std::int64_t models, std::int64_t n, double rel, double denom,
                         double fallback, Context&) {
  for (std::int64_t k = 0; k < models; ++k) {
    double* ak = a + k * n * n;
    double trace = 0.0;
    for (std::int64_t i = 0; i < n; ++i) trace += ak[i * n + i];
    const double al = linalg_math::relative_ridge(trace, rel, denom, fallback);
    alpha[k] = al;
    for (std::int64_t i = 0; i < n; ++i) ak[i * n + i] += al;
  }
}

template <typename T>
void gather_features(double* y, const T* x1, const T* x2, const std::int32_t* index, std::int64_t models,
                     std::int64_t p1, std::int64_t p2, std::int64_t rows, std::int64_t cols, Context&) {
  for (std::int64_t i = 0; i < rows; ++i) {
    GROOVE_CHECK(index[i] >= 0 && index[i] < p1 + p2, "gather_features: index[", i, "] = ", index[i],
                 " is out of range [0, ", p1 + p2, ")");
  }
#pragma omp parallel for if (models * rows * cols >= kParallelElements)
  for (std::int64_t row = 0; row < models * rows; ++row) {
    const std::int64_t k = row / rows, src = index[row % rows];
    const T* from = src < p1 ? x1 + (k * p1 + src) * cols : x2 + (k * p2 + (src - p1)) * cols;
    double* to = y + row * cols;
    for (std::int64_t c = 0; c < cols; ++c) to[c] = static_cast<double>(from[c]);
  }
}

void classification_scores(double* accuracy, double* log_loss, const double* logits, const std::int32_t* labels,
                           const std::int32_t* groups, std::int64_t models, std::int64_t rows, std::int64_t outputs,
                           std::int64_t n_groups, Context&) {
  const std::int64_t slots = 1 + n_groups;
#pragma omp parallel for if (models * rows * outputs >= kParallelElements)
  for (std::int64_t k = 0; k < models; ++k) {
    // Per slot (0: all rows, 1 + g: group g): correct predictions, rows, rows with a NaN logit.
    std::vector<double> correct(static_cast<std::size_t>(slots), 0.0), count(correct), nan_rows(correct);
    double loss = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const double* f = logits + (k * rows + r) * outputs;
      const double ok = linalg_math::row_prediction(f, outputs) == labels[r] ? 1.0 : 0.0;
      const double bad = linalg_math::row_has_nan(f, outputs) ? 1.0 : 0.0;
      if (log_loss) loss += linalg_math::row_log_loss(f, outputs, labels[r]);
      correct[0] += ok;
      count[0] += 1.0;
      nan_rows[0] += bad;
      const std::int64_t g = groups ? groups[r] : -1;
      if (g >= 0 && g < n_groups) {
        correct[1 + g] += ok;
        count[1 + g] += 1.0;
        nan_rows[1 + g] += bad;
      }
    }
    for (std::int64_t s = 0; s < slots; ++s) {
      accuracy[k * slots + s] = linalg_math::accuracy_of(correct[s], count[s], nan_rows[s]);
    }
    if (log_loss) log_loss[k] = rows > 0 ? loss / static_cast<double>(rows) : kNaN;
  }
}

void logistic_setup(double* state, double* inv_scale, const double* norm, std::int64_t models, double count, Context&) {
  using namespace linalg_math;
  for (std::int64_t k = 0; k < models; ++k) {
    state[kLogisticL * models + k] = 0.0;
    state[kLogisticT * models + k] = 1.0;
    state[kLogisticStatus * models + k] = 0.0;
    state[kLogisticIters * models + k] = 0.0;
    state[kLogisticGradNorm * models + k] = kNaN;
    inv_scale[k] = norm[k] > 0.0 ? std::sqrt(count) / norm[k] : 1.0;
  }
}

void logistic_residual(double* r, const double* logits, const std::int32_t* labels, std::int64_t models,
                       std::int64_t rows, std::int64_t outputs, double scale, Context&) {
#pragma omp parallel for if (models * rows * outputs >= kParallelElements)
  for (std::int64_t row = 0; row < models * rows; ++row) {
    linalg_math::row_loss_gradient(r + row * outputs, logits + row * outputs, outputs, labels[row % rows], scale);
  }
}

void logistic_update(const LogisticStep& s, Context&) {
  using namespace linalg_math;
  const std::int64_t pw = s.params_w, po = s.outputs, pz = s.rows * s.outputs, m = s.models;
#pragma omp parallel for if (m * (pw + pz) >= kParallelElements)
  for (std::int64_t k = 0; k < m; ++k) {
    if (s.state[kLogisticStatus * m + k] != 0.0) continue;
    double* w = s.w + k * pw;
    double* yw = s.yw + k * pw;
    const double* gw = s.gw + k * pw;
    double* b = s.b + k * po;
    double* yb = s.yb + k * po;
    const double* gb = s.gb + k * po;
    const double* zg = s.zg + k * pz;
    double gw_sq = 0.0, gb_sq = 0.0, zg_sq = 0.0;
    for (std::int64_t i = 0; i < pw; ++i) gw_sq += gw[i] * gw[i];
    for (std::int64_t i = 0; i < po; ++i) gb_sq += gb[i] * gb[i];
    for (std::int64_t i = 0; i < pz; ++i) zg_sq += zg[i] * zg[i];
    const double g_sq = gw_sq + gb_sq, gnorm = std::sqrt(g_sq);
    s.state[kLogisticGradNorm * m + k] = gnorm;
    if (gnorm <= s.tol) {
      s.state[kLogisticStatus * m + k] = 1.0;
      s.state[kLogisticIters * m + k] = static_cast<double>(s.iteration);
      std::copy(yw, yw + pw, w);
      std::copy(yb, yb + po, b);
      continue;
    }
    if (!s.step) continue;
    const double l =
        next_lipschitz(s.state[kLogisticL * m + k], directional_curvature(s.curvature, zg_sq, s.lambda, gw_sq, g_sq));
    if (!(l > 0.0) || !std::isfinite(l)) {
      s.state[kLogisticStatus * m + k] = 2.0;
      continue;
    }
    const double inv_l = 1.0 / l;
    double dot = 0.0;
    for (std::int64_t i = 0; i < pw; ++i) dot += gw[i] * (yw[i] - gw[i] * inv_l - w[i]);
    for (std::int64_t i = 0; i < po; ++i) dot += gb[i] * (yb[i] - gb[i] * inv_l - b[i]);
    const double t = dot > 0.0 ? 1.0 : s.state[kLogisticT * m + k];
    const double t_next = fista_next_t(t), beta = (t - 1.0) / t_next;
    for (std::int64_t i = 0; i < pw; ++i) fista_element(w[i], yw[i], gw[i], inv_l, beta);
    for (std::int64_t i = 0; i < po; ++i) fista_element(b[i], yb[i], gb[i], inv_l, beta);
    s.state[kLogisticL * m + k] = l;
    s.state[kLogisticT * m + k] = t_next;
    s.state[kLogisticIters * m + k] = static_cast<double>(s.iteration + 1);
  }
}

GROOVE_INSTANTIATE_GATHER_FEATURES(float)
GROOVE_INSTANTIATE_GATHER_FEATURES(double)

}  // namespace groove::cpu
