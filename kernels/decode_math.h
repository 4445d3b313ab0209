// Math of the batched binary linear decoders (ops::fit_linear_decoders, kernels/decode_ops.h),
// shared by the CPU kernel (kernels/cpu/decode.cpp, one model per OpenMP iteration) and the CUDA
// kernel (kernels/cuda/decode.cu, one thread per model): the whole per-model fit is written once
// here (GROOVE_HD), so both backends perform the same operations in the same order (they differ
// only where the CUDA compiler contracts a multiply and an add into an fma).
//
// Nothing here allocates: the caller passes each model's scratch (scratch_doubles(F, T) doubles)
// through a buffer view, Contiguous on the CPU, Strided on CUDA (element e of the model in chunk
// slot i lives at ws[e * chunk + i], so the threads of a warp touch consecutive addresses).
//
// Notation: model k uses session s = session[k], its f = features[s] first features and the
// trials t with training weight s_t = train[k, t] > 0; y_t = +1 for label 1, -1 for label 0;
// theta = (w_0 .. w_{f-1}, b) has n = f + 1 entries; x~_t = (x_t, 1).
//
//   lda       sklearn LinearDiscriminantAnalysis(solver="lsqr", shrinkage=alpha), priors n_c / n:
//             weighted class means mu_c and the within-class scatter W = sum_t s_t (x_t - mu_c)(..)^T
//             in one pass over the training trials (West's weighted update: a symmetric rank-1 update
//             of the upper triangle per trial, applied by fours, see rank4_upper),
//             Sigma = W / n, Sigma_a = (1 - alpha) Sigma + alpha (tr(Sigma) / f) I (sklearn applies
//             the shrinkage per class and averages with the priors: the same matrix, as shrinkage is
//             linear and tr is linear), Cholesky, w = Sigma_a^{-1} (mu_1 - mu_0),
//             b = -(mu_1 + mu_0) . w / 2 + log(n_1 / n_0)  (= -(mu_1 . v_1 - mu_0 . v_0) / 2 + ...).
//             A pivot d_j <= kLdaPivotRel * Sigma_a[j][j] (collinear or constant features) is "not
//             positive definite".
//   logistic  sklearn LogisticRegression(C=c, penalty="l2"): min 1/2 ||w||^2 + c sum_t s_t log(1 +
//             exp(-y_t z_t)), z_t = w . x_t + b, bias not penalized. Newton's method from theta = 0:
//             the (f+1)x(f+1) Hessian by rank-1 updates (built only when a step follows the
//             gradient test), Cholesky, direction -H^{-1} g, backtracking line search (Armijo,
//             factor 1/2) on the objective, evaluated in O(1) per trial from the logits z_t and
//             their directional derivatives; the objective is summed at theta = 0 and then carried
//             over from the accepted line-search value.
//   svm       sklearn LinearSVC(C=c, loss="squared_hinge", dual=True, intercept_scaling=1): LIBLINEAR
//             appends a constant feature, so the bias is penalized: min 1/2 ||theta||^2 + c sum_t s_t
//             max(0, 1 - y_t z_t)^2. Primal finite Newton method (Keerthi & DeCoste 2005, L2-SVM-MFN)
//             from theta = 0: the Newton step of the quadratic of the current active set
//             {t : y_t z_t < 1} (a regularized least-squares solve), then an exact line search on the
//             piecewise-quadratic objective along it (safeguarded 1-D Newton, which ends exactly once
//             the active set along the segment no longer changes). Terminates exactly once the active
//             set is the optimal one; the optimum is unique (strictly convex objective).
//
// Stopping rule of svm and logistic (tol): converged when every component of the gradient g of the
// objective at theta satisfies |g_j| <= tol * max(1, c sum_t s_t |x~_tj|), i.e. tol is relative to
// the size of the terms the gradient sums (for the bias: c n). The check runs before each Newton
// step; max_iter caps the Newton steps (info kNotConverged when reached, results still written).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/hostdevice.h"

namespace groove::decode {

// info[k] of ops::fit_linear_decoders.
enum Info : std::int32_t {
  kOk = 0,
  kNotConverged = 1,         // max_iter reached (or no descent possible in floating point): results written
  kNotPositiveDefinite = 2,  // lda: the shrunk covariance is not positive definite: NaN
  kOneClass = 3,             // a class has no training weight: NaN
  kBadInput = 4,  // session / features index out of range, a train weight < 0 / NaN / inf, or a label not 0/1 on
                  // a training trial: NaN (the CPU op throws for bad indices before running)
};

enum Kind : int { kLda = 0, kSvm = 1, kLogistic = 2 };

// A Cholesky pivot of the LDA covariance must exceed this fraction of its diagonal entry.
inline constexpr double kLdaPivotRel = 1e-12;
// Backtracking line search of logistic: sufficient decrease, and the most halvings.
inline constexpr double kArmijo = 1e-4;
inline constexpr int kMaxBacktracks = 60;
inline constexpr double kObjectiveSlack = 64 * 2.220446049250313e-16;
// Exact line search of svm: the most 1-D Newton / bisection steps.
inline constexpr int kMaxLineSteps = 200;

struct Params {
  int kind = kLda;
  double shrinkage = 0.0;
  double c = 1.0;
  std::int64_t max_iter = 1000;
  double tol = 1e-8;
};

// Pointers and sizes of one call (all on the backend's device).
struct Batch {
  double* weights = nullptr;               // [models, features_max + 1]
  double* scores = nullptr;                // [models, trials]
  std::int32_t* info = nullptr;            // [models]
  const double* x = nullptr;               // [sessions, trials, features_max]
  const std::int32_t* features = nullptr;  // [sessions]
  const std::int32_t* session = nullptr;   // [models]
  const double* train = nullptr;           // [models, trials]
  const std::int32_t* labels = nullptr;    // [models, trials]
  std::int64_t models = 0, sessions = 0, trials = 0, features_max = 0;
};

// Scratch doubles of one model: H [(F+1)^2], eight vectors [F+1], two trial vectors [T]; rounded
// up to whole 64-byte lines.
GROOVE_HD inline std::int64_t scratch_doubles(std::int64_t features_max, std::int64_t trials) {
  const std::int64_t n = features_max + 1;
  const std::int64_t d = n * n + 8 * n + 2 * trials;
  return (d + 7) / 8 * 8;
}

// Views of a model's scratch.
struct Contiguous {
  double* p;
  GROOVE_HD double& operator[](std::int64_t e) const { return p[e]; }
  GROOVE_HD Contiguous at(std::int64_t offset) const { return {p + offset}; }
};
struct Strided {
  double* p;
  std::int64_t stride;
  GROOVE_HD double& operator[](std::int64_t e) const { return p[e * stride]; }
  GROOVE_HD Strided at(std::int64_t offset) const { return {p + offset * stride, stride}; }
};

GROOVE_HD inline double qnan() {
  return std::numeric_limits<double>::quiet_NaN();
}
GROOVE_HD inline double inf() {
  return std::numeric_limits<double>::infinity();
}

// ---------------------------------------------------------------------------------------------
// Small dense helpers on an n x n row-major matrix (leading dimension n), upper triangle.

// In place right-looking Cholesky of the upper triangle of a: U^T U = A (U overwrites the upper
// triangle; the strict lower triangle is not touched). Pivot j fails unless it is > 0 and
// > rel * A[j][j] (the original diagonal, saved in diag). Returns 0 or the failed column + 1.
template <class Buf>
GROOVE_HD std::int64_t cholesky_upper(Buf a, Buf diag, std::int64_t n, double rel) {
  for (std::int64_t j = 0; j < n; ++j) diag[j] = a[j * n + j];
  for (std::int64_t j = 0; j < n; ++j) {
    Buf uj = a.at(j * n);
    const double d = uj[j];
    if (!(d > 0.0) || !(d > rel * diag[j])) return j + 1;
    const double r = sqrt(d);
    uj[j] = r;
    for (std::int64_t i = j + 1; i < n; ++i) uj[i] = uj[i] / r;
    for (std::int64_t i = j + 1; i < n; ++i) {
      const double u = uj[i];
      Buf ai = a.at(i * n);
      for (std::int64_t c = i; c < n; ++c) ai[c] -= u * uj[c];
    }
  }
  return 0;
}

// x <- A^{-1} x with U^T U = A from cholesky_upper: forward (U^T y = x), then backward (U x = y).
template <class Buf>
GROOVE_HD void cholesky_solve_upper(Buf u, Buf x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const Buf ui = u.at(i * n);
    const double xi = x[i] / ui[i];
    x[i] = xi;
    for (std::int64_t r = i + 1; r < n; ++r) x[r] -= ui[r] * xi;
  }
  for (std::int64_t i = n - 1; i >= 0; --i) {
    const Buf ui = u.at(i * n);
    double acc = x[i];
    for (std::int64_t p = i + 1; p < n; ++p) acc -= ui[p] * x[p];
    x[i] = acc / ui[i];
  }
}

// Symmetric updates of the upper triangle of an n x n matrix h (leading dimension ld = n): with
// vectors v_i (Augmented: v_i = (x_i[0..len), 1), n = len + 1; otherwise n = len),
//   rank1: h += c v v^T;   rank4: h += c_0 v_0 v_0^T + ... + c_3 v_3 v_3^T,
// where rank4 adds the four terms to every entry one after the other: exactly the roundings of
// four rank-1 updates in sequence, with a quarter of the loads and stores of h. Callers group the
// vectors by four and finish with rank1, so the result does not depend on the grouping.
template <bool Augmented, class Buf, class V>
GROOVE_HD void rank1_upper(Buf h, std::int64_t len, const V& v, double coef) {
  const std::int64_t ld = Augmented ? len + 1 : len;
  for (std::int64_t j = 0; j < len; ++j) {
    const double a = coef * v[j];
    Buf hj = h.at(j * ld);
    for (std::int64_t c = j; c < len; ++c) hj[c] += a * v[c];
    if (Augmented) hj[len] += a;
  }
  if (Augmented) h[len * ld + len] += coef;
}
template <bool Augmented, class Buf, class V>
GROOVE_HD void rank4_upper(Buf h, std::int64_t len, const V* v, const double* coef) {
  const std::int64_t ld = Augmented ? len + 1 : len;
  const V v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
  for (std::int64_t j = 0; j < len; ++j) {
    const double a0 = coef[0] * v0[j], a1 = coef[1] * v1[j], a2 = coef[2] * v2[j], a3 = coef[3] * v3[j];
    Buf hj = h.at(j * ld);
    for (std::int64_t c = j; c < len; ++c) hj[c] = (((hj[c] + a0 * v0[c]) + a1 * v1[c]) + a2 * v2[c]) + a3 * v3[c];
    if (Augmented) hj[len] = (((hj[len] + a0) + a1) + a2) + a3;
  }
  if (Augmented) h[len * ld + len] = (((h[len * ld + len] + coef[0]) + coef[1]) + coef[2]) + coef[3];
}

// Collects (vector, coefficient) pairs and applies them to h by fours (see rank4_upper).
template <bool Augmented, class Buf, class V>
struct RankUpdater {
  Buf h;
  std::int64_t len;
  V v[4];
  double coef[4];
  int m = 0;
  GROOVE_HD RankUpdater(Buf h_, std::int64_t len_) : h(h_), len(len_) {}
  GROOVE_HD void add(const V& vec, double c) {
    v[m] = vec;
    coef[m] = c;
    if (++m == 4) {
      rank4_upper<Augmented>(h, len, v, coef);
      m = 0;
    }
  }
  GROOVE_HD void finish() {
    for (int i = 0; i < m; ++i) rank1_upper<Augmented>(h, len, v[i], coef[i]);
    m = 0;
  }
};

// theta . x~ = sum_j theta_j x_j + theta_f, the sum in four interleaved partial sums
// ((s0 + s1) + (s2 + s3)), s_i over j = i mod 4: a fixed order, and four independent chains.
template <class Buf>
GROOVE_HD double affine_dot(const double* x, Buf theta, std::int64_t f) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::int64_t j = 0;
  for (; j + 4 <= f; j += 4) {
    s0 += x[j] * theta[j];
    s1 += x[j + 1] * theta[j + 1];
    s2 += x[j + 2] * theta[j + 2];
    s3 += x[j + 3] * theta[j + 3];
  }
  if (j < f) s0 += x[j] * theta[j];
  if (j + 1 < f) s1 += x[j + 1] * theta[j + 1];
  if (j + 2 < f) s2 += x[j + 2] * theta[j + 2];
  return ((s0 + s1) + (s2 + s3)) + theta[f];
}

// The derivatives of log(1 + exp(-m)) from e = exp(-|m|) (no overflow): sig = sigmoid(-m) (the
// probability of the other class; the first derivative is -sig), q = sigmoid(m) sigmoid(-m) (the
// second derivative).
struct LogisticTerm {
  double sig, q;
};
GROOVE_HD inline LogisticTerm logistic_term(double m) {
  const double e = exp(-fabs(m));
  const double inv = 1.0 / (1.0 + e);
  LogisticTerm r;
  r.sig = m >= 0.0 ? e * inv : inv;
  r.q = e * inv * inv;
  return r;
}
// log(1 + exp(-m)) without overflow.
GROOVE_HD inline double logistic_loss(double m) {
  const double l = log1p(exp(-fabs(m)));
  return m >= 0.0 ? l : l - m;
}

// The convergence test of svm and logistic (see the header comment); scale holds c sum s |x~_j|.
template <class Buf>
GROOVE_HD bool gradient_converged(Buf g, Buf scale, std::int64_t n, double tol) {
  for (std::int64_t j = 0; j < n; ++j) {
    const double s = scale[j] > 1.0 ? scale[j] : 1.0;
    if (!(fabs(g[j]) <= tol * s)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The per-model fits. x: the session's [T, F] rows (row stride F); train, labels: the model's [T].
// Scratch layout (offsets in doubles): H at 0 [n * n], then vectors of F + 1: diag, g, dir, theta,
// slot[0..4) (svm, logistic: slot[0] holds the tolerance scale; lda: the centered trials of one
// rank-4 update), then z [T] and dz [T].

template <class Buf>
struct Scratch {
  Buf h, diag, g, dir, theta, slot[4], z, dz;
  GROOVE_HD Scratch(Buf ws, std::int64_t features_max, std::int64_t trials)
      : h(ws),
        diag(ws.at((features_max + 1) * (features_max + 1))),
        g(diag.at(features_max + 1)),
        dir(g.at(features_max + 1)),
        theta(dir.at(features_max + 1)),
        slot{theta.at(features_max + 1), theta.at(2 * (features_max + 1)), theta.at(3 * (features_max + 1)),
             theta.at(4 * (features_max + 1))},
        z(theta.at(5 * (features_max + 1))),
        dz(z.at(trials)) {}
};

// LDA: writes w into theta[0..f) and b into theta[f]; returns kOk or kNotPositiveDefinite.
template <class Buf>
GROOVE_HD std::int32_t fit_lda(const Scratch<Buf>& s, const double* x, std::int64_t F, std::int64_t f,
                               const double* train, const std::int32_t* labels, std::int64_t T, double alpha, double n0,
                               double n1) {
  Buf mu0 = s.dir, mu1 = s.theta, h = s.h;  // h: the scatter W, f x f
  for (std::int64_t e = 0; e < f * f; ++e) h[e] = 0.0;
  for (std::int64_t j = 0; j < f; ++j) mu0[j] = mu1[j] = 0.0;
  double w0 = 0.0, w1 = 0.0;
  RankUpdater<false, Buf, Buf> scatter(h, f);
  for (std::int64_t t = 0; t < T; ++t) {
    const double st = train[t];
    if (!(st > 0.0)) continue;
    const double* xt = x + t * F;
    const bool one = labels[t] == 1;
    Buf mu = one ? mu1 : mu0;
    double& wc = one ? w1 : w0;
    const double wn = wc + st;
    const double r = st / wn;
    const double coef = wc * r;     // s W / (W + s); 0 for the first trial of a class
    Buf delta = s.slot[scatter.m];  // a slot no pending update uses
    for (std::int64_t j = 0; j < f; ++j) {
      const double d = xt[j] - mu[j];
      delta[j] = d;
      mu[j] += r * d;
    }
    if (coef != 0.0) scatter.add(delta, coef);
    wc = wn;
  }
  scatter.finish();
  const double n = n0 + n1;
  double trace = 0.0;
  for (std::int64_t j = 0; j < f; ++j) trace += h[j * f + j];
  const double shrink = alpha * (trace / n) / static_cast<double>(f);
  for (std::int64_t j = 0; j < f; ++j) {
    Buf hj = h.at(j * f);
    for (std::int64_t c = j; c < f; ++c) hj[c] = (1.0 - alpha) * (hj[c] / n);
    hj[j] += shrink;
  }
  if (cholesky_upper(h, s.diag, f, kLdaPivotRel) != 0) return kNotPositiveDefinite;
  Buf w = s.g;
  for (std::int64_t j = 0; j < f; ++j) w[j] = mu1[j] - mu0[j];
  cholesky_solve_upper(h, w, f);
  double acc = 0.0;
  for (std::int64_t j = 0; j < f; ++j) acc += (mu1[j] + mu0[j]) * w[j];
  const double b = -0.5 * acc + log(n1 / n0);
  for (std::int64_t j = 0; j < f; ++j) s.theta[j] = w[j];
  s.theta[f] = b;
  return kOk;
}

// scale_j = c sum_t s_t |x~_tj| for the tolerance of svm and logistic.
template <class Buf>
GROOVE_HD void gradient_scale(Buf scale, const double* x, std::int64_t F, std::int64_t f, const double* train,
                              std::int64_t T, double c) {
  for (std::int64_t j = 0; j <= f; ++j) scale[j] = 0.0;
  for (std::int64_t t = 0; t < T; ++t) {
    const double st = train[t];
    if (!(st > 0.0)) continue;
    const double* xt = x + t * F;
    for (std::int64_t j = 0; j < f; ++j) scale[j] += st * fabs(xt[j]);
    scale[f] += st;
  }
  for (std::int64_t j = 0; j <= f; ++j) scale[j] *= c;
}

// Logistic regression by Newton's method; theta holds the result. Returns kOk or kNotConverged.
template <class Buf>
GROOVE_HD std::int32_t fit_logistic(const Scratch<Buf>& s, const double* x, std::int64_t F, std::int64_t f,
                                    const double* train, const std::int32_t* labels, std::int64_t T, const Params& p) {
  const std::int64_t n = f + 1;
  const double c = p.c;
  Buf h = s.h, g = s.g, dir = s.dir, th = s.theta, z = s.z, dz = s.dz;
  gradient_scale(s.slot[0], x, F, f, train, T, c);
  for (std::int64_t j = 0; j < n; ++j) th[j] = 0.0;
  double obj = 0.0;  // the objective at theta: summed at theta = 0, then the accepted line-search value
  for (std::int64_t iter = 0;; ++iter) {
    // Gradient at theta; the Hessian's coefficients c s_t q_t go to dz (the Hessian itself is built
    // only when a step follows).
    for (std::int64_t j = 0; j < n; ++j) g[j] = 0.0;
    double data = 0.0;
    for (std::int64_t t = 0; t < T; ++t) {
      const double st = train[t];
      if (!(st > 0.0)) continue;
      const double* xt = x + t * F;
      const double y = labels[t] == 1 ? 1.0 : -1.0;
      const double zt = affine_dot(xt, th, f);
      z[t] = zt;
      const LogisticTerm lt = logistic_term(y * zt);
      if (iter == 0) data += st * logistic_loss(y * zt);
      const double gc = -(c * st) * (y * lt.sig);
      for (std::int64_t j = 0; j < f; ++j) g[j] += gc * xt[j];
      g[f] += gc;
      dz[t] = (c * st) * lt.q;
    }
    for (std::int64_t j = 0; j < f; ++j) g[j] += th[j];
    if (iter == 0) obj = c * data;
    if (gradient_converged(g, s.slot[0], n, p.tol)) return kOk;
    if (iter >= p.max_iter) return kNotConverged;
    for (std::int64_t e = 0; e < n * n; ++e) h[e] = 0.0;
    RankUpdater<true, Buf, const double*> hessian(h, f);
    for (std::int64_t t = 0; t < T; ++t) {
      if (train[t] > 0.0 && dz[t] != 0.0) hessian.add(x + t * F, dz[t]);
    }
    hessian.finish();
    for (std::int64_t j = 0; j < f; ++j) h[j * n + j] += 1.0;
    if (cholesky_upper(h, s.diag, n, 0.0) != 0) return kNotConverged;
    for (std::int64_t j = 0; j < n; ++j) dir[j] = -g[j];
    cholesky_solve_upper(h, dir, n);
    double gd = 0.0;
    for (std::int64_t j = 0; j < n; ++j) gd += g[j] * dir[j];
    if (!(gd < 0.0)) return kNotConverged;
    for (std::int64_t t = 0; t < T; ++t) {
      if (train[t] > 0.0) dz[t] = affine_dot(x + t * F, dir, f);
    }
    // Backtracking from the full Newton step.
    double step = 1.0;
    bool accepted = false;
    for (int b = 0; b < kMaxBacktracks; ++b) {
      double wt = 0.0;
      for (std::int64_t j = 0; j < f; ++j) {
        const double v = th[j] + step * dir[j];
        wt += v * v;
      }
      double dt = 0.0;
      for (std::int64_t t = 0; t < T; ++t) {
        const double st = train[t];
        if (!(st > 0.0)) continue;
        const double y = labels[t] == 1 ? 1.0 : -1.0;
        dt += st * logistic_loss(y * (z[t] + step * dz[t]));
      }
      // The slack absorbs the rounding of the two objective sums, so that a full Newton step at the
      // rounding floor (a decrease below the objective's resolution) is not rejected.
      const double value = 0.5 * wt + c * dt;
      if (value <= obj + kArmijo * step * gd + kObjectiveSlack * obj) {
        obj = value;
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return kNotConverged;
    for (std::int64_t j = 0; j < n; ++j) th[j] += step * dir[j];
  }
}

// phi'(t) and phi''(t) of the svm objective along dir at step t (on the piece at t), and the
// number of trials whose activity (margin < 1) differs between t and tref.
struct LineEval {
  double d1, d2;
  std::int64_t changed;
};
template <class Buf>
GROOVE_HD LineEval svm_line_eval(Buf z, Buf dz, const double* train, const std::int32_t* labels, std::int64_t T,
                                 double c, double thd, double dd, double step, double tref) {
  LineEval r{thd + step * dd, dd, 0};
  for (std::int64_t t = 0; t < T; ++t) {
    const double st = train[t];
    if (!(st > 0.0)) continue;
    const double y = labels[t] == 1 ? 1.0 : -1.0;
    const double m0 = y * z[t], md = y * dz[t];
    const double m = m0 + step * md;
    const bool active = m < 1.0;
    if (active) {
      const double cs2 = 2.0 * c * st;
      r.d1 -= cs2 * (1.0 - m) * md;
      r.d2 += cs2 * md * md;
    }
    if (active != (m0 + tref * md < 1.0)) ++r.changed;
  }
  return r;
}

// L2-loss linear SVM (bias penalized) by the finite Newton method; theta holds the result.
// Returns kOk or kNotConverged.
template <class Buf>
GROOVE_HD std::int32_t fit_svm(const Scratch<Buf>& s, const double* x, std::int64_t F, std::int64_t f,
                               const double* train, const std::int32_t* labels, std::int64_t T, const Params& p) {
  const std::int64_t n = f + 1;
  const double c = p.c;
  Buf h = s.h, g = s.g, dir = s.dir, th = s.theta, z = s.z, dz = s.dz;
  gradient_scale(s.slot[0], x, F, f, train, T, c);
  for (std::int64_t j = 0; j < n; ++j) th[j] = 0.0;
  for (std::int64_t iter = 0;; ++iter) {
    // Gradient at theta; the coefficients 2 c s_t of the active set's Hessian go to dz (0 when
    // inactive; the Hessian is built only when a step follows).
    for (std::int64_t j = 0; j < n; ++j) g[j] = 0.0;
    for (std::int64_t t = 0; t < T; ++t) {
      const double st = train[t];
      if (!(st > 0.0)) continue;
      const double* xt = x + t * F;
      const double y = labels[t] == 1 ? 1.0 : -1.0;
      const double zt = affine_dot(xt, th, f);
      z[t] = zt;
      const double m = y * zt;
      dz[t] = 0.0;
      if (!(m < 1.0)) continue;
      const double cs2 = 2.0 * c * st;
      const double gc = -cs2 * (1.0 - m) * y;
      for (std::int64_t j = 0; j < f; ++j) g[j] += gc * xt[j];
      g[f] += gc;
      dz[t] = cs2;
    }
    for (std::int64_t j = 0; j < n; ++j) g[j] += th[j];
    if (gradient_converged(g, s.slot[0], n, p.tol)) return kOk;
    if (iter >= p.max_iter) return kNotConverged;
    for (std::int64_t e = 0; e < n * n; ++e) h[e] = 0.0;
    RankUpdater<true, Buf, const double*> hessian(h, f);
    for (std::int64_t t = 0; t < T; ++t) {
      if (train[t] > 0.0 && dz[t] != 0.0) hessian.add(x + t * F, dz[t]);
    }
    hessian.finish();
    for (std::int64_t j = 0; j < n; ++j) h[j * n + j] += 1.0;
    if (cholesky_upper(h, s.diag, n, 0.0) != 0) return kNotConverged;
    for (std::int64_t j = 0; j < n; ++j) dir[j] = -g[j];
    cholesky_solve_upper(h, dir, n);
    double thd = 0.0, dd = 0.0;
    for (std::int64_t j = 0; j < n; ++j) {
      thd += th[j] * dir[j];
      dd += dir[j] * dir[j];
    }
    for (std::int64_t t = 0; t < T; ++t) {
      if (train[t] > 0.0) dz[t] = affine_dot(x + t * F, dir, f);
    }
    // Exact line search: the root of phi' (continuous, increasing) on (0, inf). Newton steps on the
    // piece at the current point, kept inside the bracket [lo, hi] (else bisection / doubling); a
    // Newton point whose pieces agree with its origin's along the whole segment is the exact root.
    double lo = 0.0, hi = inf(), step = 1.0, tref = 0.0;
    bool newton = true, exact = false;
    for (int ls = 0; ls < kMaxLineSteps; ++ls) {
      const LineEval e = svm_line_eval(z, dz, train, labels, T, c, thd, dd, step, tref);
      if (e.d1 == 0.0 || (newton && e.changed == 0)) {
        exact = true;
        break;
      }
      if (e.d1 < 0.0) {
        lo = step;
      } else {
        hi = step;
      }
      double next = step - e.d1 / e.d2;
      newton = next > lo && next < hi;
      if (!newton) next = hi < inf() ? 0.5 * (lo + hi) : 2.0 * step;
      tref = step;
      step = next;
      if (hi < inf() && hi - lo <= 1e-15 * hi) break;
    }
    if (!exact) step = lo;
    if (!(step > 0.0)) return kNotConverged;
    for (std::int64_t j = 0; j < n; ++j) th[j] += step * dir[j];
  }
}

// Writes model k's outputs: weights [F + 1] (w, zeros beyond f, b), scores [T] (x_t . w + b by
// affine_dot) and info; NaN weights and scores unless status is kOk or kNotConverged.
template <class Buf>
GROOVE_HD void write_model(const Batch& bt, std::int64_t k, const double* x, std::int64_t f, Buf theta,
                           std::int32_t status) {
  const std::int64_t F = bt.features_max, T = bt.trials;
  double* w = bt.weights + k * (F + 1);
  double* sc = bt.scores + k * T;
  bt.info[k] = status;
  if (status != kOk && status != kNotConverged) {
    for (std::int64_t j = 0; j <= F; ++j) w[j] = qnan();
    for (std::int64_t t = 0; t < T; ++t) sc[t] = qnan();
    return;
  }
  for (std::int64_t j = 0; j < f; ++j) w[j] = theta[j];
  for (std::int64_t j = f; j < F; ++j) w[j] = 0.0;
  w[F] = theta[f];
  for (std::int64_t t = 0; t < T; ++t) sc[t] = affine_dot(x + t * F, theta, f);
}

// Fits model k with scratch ws (scratch_doubles(F, T) doubles) and writes its outputs.
template <class Buf>
GROOVE_HD void fit_model(const Batch& bt, const Params& p, std::int64_t k, Buf ws) {
  const std::int64_t F = bt.features_max, T = bt.trials;
  const Scratch<Buf> s(ws, F, T);
  const std::int64_t sess = bt.session[k];
  if (sess < 0 || sess >= bt.sessions) {
    write_model(bt, k, nullptr, 0, s.theta, kBadInput);
    return;
  }
  const std::int64_t f = bt.features[sess];
  const double* x = bt.x + sess * T * F;
  if (f < 1 || f > F) {
    write_model(bt, k, x, 0, s.theta, kBadInput);
    return;
  }
  const double* train = bt.train + k * T;
  const std::int32_t* labels = bt.labels + k * T;
  double n0 = 0.0, n1 = 0.0;
  bool bad = false;
  for (std::int64_t t = 0; t < T; ++t) {
    const double st = train[t];
    if (!(st >= 0.0 && st < inf())) bad = true;
    if (!(st > 0.0)) continue;
    const std::int32_t l = labels[t];
    if (l == 1) {
      n1 += st;
    } else if (l == 0) {
      n0 += st;
    } else {
      bad = true;
    }
  }
  if (bad) {
    write_model(bt, k, x, f, s.theta, kBadInput);
    return;
  }
  if (!(n0 > 0.0) || !(n1 > 0.0)) {
    write_model(bt, k, x, f, s.theta, kOneClass);
    return;
  }
  std::int32_t status;
  if (p.kind == kLda) {
    status = fit_lda(s, x, F, f, train, labels, T, p.shrinkage, n0, n1);
  } else if (p.kind == kSvm) {
    status = fit_svm(s, x, F, f, train, labels, T, p);
  } else {
    status = fit_logistic(s, x, F, f, train, labels, T, p);
  }
  write_model(bt, k, x, f, s.theta, status);
}

}  // namespace groove::decode
