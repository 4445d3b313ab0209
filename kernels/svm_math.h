// Math of the SMO solver of the linear SVM dual (ops::svm_dual_solve, kernels/svm_ops.h), shared by
// the CPU kernel (kernels/cpu/svm.cpp, one model per OpenMP iteration) and the CUDA kernel
// (kernels/cuda/svm.cu, one block per model): the per-example terms of every pass, the
// associative combines of the passes' reductions, the two-variable update with clipping, the
// stopping tests, the bias, and the bitwise search for the k-th smallest distance. Both backends
// fold the same terms with the same combines; the working-set choices are maxima under a total
// order and the gradient updates round alike (mul_rn), so both take the same SMO path. Only sums
// over examples (the scale s, the margin bound, the summary) differ in their order of addition.
//
// Notation (LIBSVM, Fan, Chen & Lin 2005): y_t in {+1, -1} (0: example not used), Q_ts = y_t y_s G_ts,
// gradient grad_t = (Q a)_t - 1 = y_t g_t - 1 with g_t = sum_s a_s y_s G_st,
//   I_up  = {t : y_t = +1, a_t < C} u {t : y_t = -1, a_t > 0},
//   I_low = {t : y_t = +1, a_t > 0} u {t : y_t = -1, a_t < C},
//   m(a) = max_{t in I_up} -y_t grad_t,  M(a) = min_{t in I_low} -y_t grad_t;
// a is optimal to tol when m(a) - M(a) < tol (the maximal KKT violation, in units of the
// functional margin y f, so it does not depend on the scale of the features).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "runtime/hostdevice.h"

namespace groove::svm {

// LIBSVM's floor on the curvature of a pair direction (G_ii + G_jj - 2 G_ij <= 0 for duplicates).
inline constexpr double kTau = 1e-12;

// info[k, 1] of ops::svm_dual_solve.
enum Status : int {
  kMaxIter = 0,          // stopped at max_iter before reaching tol
  kConverged = 1,        // m(a) - M(a) < tol
  kBelowResolution = 2,  // stopped: the margin bound ||w|| / sum(a) fell to <= resolution * s (see svm_ops.h)
  kOneClass = 3,         // no used example of one of the two classes: nothing to solve
};

// Columns of the summary output of ops::svm_dual_solve.
enum SummaryColumn : int {
  kWNorm = 0,    // ||w|| = sqrt(a^T Q a)
  kMinDistance,  // min_t y_t f_t / ||w|| over used examples
  kClosestA,     // mean of the k_a smallest y_t f_t / ||w||, k_a = closest_count(closest_fractions[0], n)
  kClosestB,     // same with closest_fractions[1]
  kWrong,        // number of used examples with y_t f_t <= 0
  kAtBound,      // number of examples with a_t >= C
  kMarginBound,  // ||w|| / sum_t a_t: an upper bound on the hard margin (for any feasible a)
  kScale,        // s = sqrt(mean squared distance of the used examples to their centroid)
  kSummaryColumns,
};

GROOVE_HD inline double inf() {
  return std::numeric_limits<double>::infinity();
}
GROOVE_HD inline double qnan() {
  return std::numeric_limits<double>::quiet_NaN();
}

// a * b rounded on its own: the CUDA compiler may not fuse it with a following add into an fma,
// so inexact products round alike on both backends (host code is never contracted: groove builds
// with -std=c++17, where GCC and Clang default to -ffp-contract=off). With it, the CPU and CUDA
// solvers update the gradient bit for bit alike and so pick the same working sets.
GROOVE_HD inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// The class of a label entry: +1 for y > 0, -1 for y < 0, 0 (not used) for 0 or NaN.
GROOVE_HD inline int label_sign(double y) {
  return y > 0 ? 1 : (y < 0 ? -1 : 0);
}
GROOVE_HD inline bool in_up(int y, double a, double c) {
  return y > 0 ? a < c : a > 0;
}
GROOVE_HD inline bool in_low(int y, double a, double c) {
  return y > 0 ? a > 0 : a < c;
}

// ---------------------------------------------------------------------------------------------
// Setup: counts of both classes and the scale s^2 = (1/n) sum_t G_tt - (1/n^2) sum_{t,u} G_tu
// over used examples (the mean squared distance to their centroid; invariant under translation).

struct ScaleAcc {
  double diag;   // sum_t G_tt
  double total;  // sum_{t,u} G_tu
  double n_pos, n_neg;
};
GROOVE_HD inline ScaleAcc scale_identity() {
  return {0.0, 0.0, 0.0, 0.0};
}
GROOVE_HD inline ScaleAcc scale_combine(const ScaleAcc& a, const ScaleAcc& b) {
  return {a.diag + b.diag, a.total + b.total, a.n_pos + b.n_pos, a.n_neg + b.n_neg};
}
// Example t's term: its diagonal entry and column sum (over used examples).
GROOVE_HD inline ScaleAcc scale_term(int y, double g_tt, double column_sum) {
  if (y == 0) return scale_identity();
  return {g_tt, column_sum, y > 0 ? 1.0 : 0.0, y < 0 ? 1.0 : 0.0};
}
GROOVE_HD inline double scale_sq(const ScaleAcc& a) {
  const double n = a.n_pos + a.n_neg;
  if (n <= 0) return 0.0;
  const double s2 = a.diag / n - a.total / (n * n);
  return s2 > 0 ? s2 : 0.0;
}
// The box constraint of one model: c, or c / s^2 when relative (inf when s = 0).
GROOVE_HD inline double effective_c(double c, bool relative, double s2) {
  if (!relative) return c;
  return s2 > 0 ? c / s2 : inf();
}

// ---------------------------------------------------------------------------------------------
// Working-set selection (WSS 2 of Fan, Chen & Lin 2005, as in LIBSVM's Solver::select_working_set).

// A candidate example and what the update needs of it. Preference: larger value, then smaller
// index (a total order, so any combine tree picks the same example). index -1: none.
struct Pick {
  double value;
  double alpha;
  double grad;
  int index;
  int y;
};
GROOVE_HD inline Pick pick_none() {
  return {-inf(), 0.0, 0.0, -1, 0};
}
GROOVE_HD inline Pick pick_better(const Pick& a, const Pick& b) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  if (a.value != b.value) return a.value > b.value ? a : b;
  return a.index < b.index ? a : b;
}

// Pass 1: i = argmax_{t in I_up} -y_t grad_t (value m(a)), and the sums for the margin bound.
struct SelectI {
  Pick best;
  double sum_alpha;  // sum_t a_t
  double w_sq;       // sum_t a_t (grad_t + 1) = a^T Q a = ||w||^2
};
GROOVE_HD inline SelectI select_i_identity() {
  return {pick_none(), 0.0, 0.0};
}
GROOVE_HD inline SelectI select_i_combine(const SelectI& a, const SelectI& b) {
  return {pick_better(a.best, b.best), a.sum_alpha + b.sum_alpha, a.w_sq + b.w_sq};
}
GROOVE_HD inline SelectI select_i_term(int t, int y, double a, double grad, double c) {
  SelectI r = select_i_identity();
  if (y == 0) return r;
  r.sum_alpha = a;
  r.w_sq = a * (grad + 1.0);
  if (in_up(y, a, c)) r.best = Pick{-y * grad, a, grad, t, y};
  return r;
}

// Pass 2, given i: j = argmin_{t in I_low, -y_t grad_t < m(a)} -(m(a) + y_t grad_t)^2 / quad_it with
// quad_it = G_ii + G_tt - 2 G_it (kTau when <= 0); the pick's value is the decrease
// (m(a) + y_t grad_t)^2 / quad_it. gmax2 = max_{t in I_low} y_t grad_t = -M(a).
struct SelectJ {
  Pick best;
  double gmax2;
};
GROOVE_HD inline SelectJ select_j_identity() {
  return {pick_none(), -inf()};
}
GROOVE_HD inline SelectJ select_j_combine(const SelectJ& a, const SelectJ& b) {
  return {pick_better(a.best, b.best), a.gmax2 > b.gmax2 ? a.gmax2 : b.gmax2};
}
GROOVE_HD inline SelectJ select_j_term(int t, int y, double a, double grad, double c, double gmax, double g_ii,
                                       double g_tt, double g_it) {
  SelectJ r = select_j_identity();
  if (y == 0 || !in_low(y, a, c)) return r;
  const double yg = y * grad;
  r.gmax2 = yg;
  const double grad_diff = gmax + yg;
  if (grad_diff > 0) {
    double quad = g_ii + g_tt - 2.0 * g_it;
    if (quad <= 0) quad = kTau;
    r.best = Pick{grad_diff * grad_diff / quad, a, grad, t, y};
  }
  return r;
}

// LIBSVM's stopping test: m(a) - M(a) < tol, or no pair that decreases the objective.
GROOVE_HD inline bool optimal(const SelectI& si, const SelectJ& sj, double tol) {
  return si.best.index < 0 || sj.best.index < 0 || si.best.value + sj.gmax2 < tol;
}

// The resolution stop: for any feasible a, u = sum_{y=+1} a_t x_t / (A/2) and v = sum_{y=-1} a_t x_t / (A/2)
// (A = sum a) are points of the two classes' convex hulls with w = (A/2)(u - v), so the hard margin
// (half the distance between the hulls) is at most ||w|| / A. Stop once that bound is <= resolution * s.
GROOVE_HD inline bool below_resolution(const SelectI& si, double resolution, double s2) {
  if (!(si.sum_alpha > 0)) return false;
  const double bound = resolution * si.sum_alpha;
  return si.w_sq <= bound * bound * s2;
}

// The decision after each working-set selection, shared by both backends: kConverged,
// kBelowResolution, kMaxIter (iteration limit reached), or kContinue to take the pair step.
inline constexpr int kContinue = -1;
GROOVE_HD inline int step_status(const SelectI& si, const SelectJ& sj, double tol, double resolution, double s2,
                                 std::int64_t iter, std::int64_t max_iter) {
  if (optimal(si, sj, tol)) return kConverged;
  if (below_resolution(si, resolution, s2)) return kBelowResolution;
  return iter >= max_iter ? kMaxIter : kContinue;
}

// The two-variable update of LIBSVM's Solver::solve for a pair (i, j) with equal box C (inf allowed):
// minimizes the dual along the feasible direction, then clips to [0, C] keeping y_i a_i + y_j a_j.
// g_ii, g_jj, g_ij: Gram entries; grad_i, grad_j: gradients; a_i, a_j: updated in place.
GROOVE_HD inline void pair_update(int y_i, int y_j, double grad_i, double grad_j, double g_ii, double g_jj, double g_ij,
                                  double c, double& a_i, double& a_j) {
  double quad = g_ii + g_jj - 2.0 * g_ij;  // = Q_ii + Q_jj -+ 2 Q_ij in both cases
  if (quad <= 0) quad = kTau;
  if (y_i != y_j) {
    const double delta = (-grad_i - grad_j) / quad;
    const double diff = a_i - a_j;
    a_i += delta;
    a_j += delta;
    if (diff > 0) {
      if (a_j < 0) {
        a_j = 0;
        a_i = diff;
      }
    } else {
      if (a_i < 0) {
        a_i = 0;
        a_j = -diff;
      }
    }
    if (diff > 0) {
      if (a_i > c) {
        a_i = c;
        a_j = c - diff;
      }
    } else {
      if (a_j > c) {
        a_j = c;
        a_i = c + diff;
      }
    }
  } else {
    const double delta = (grad_i - grad_j) / quad;
    const double sum = a_i + a_j;
    a_i -= delta;
    a_j += delta;
    if (sum > c) {
      if (a_i > c) {
        a_i = c;
        a_j = sum - c;
      }
    } else {
      if (a_j < 0) {
        a_j = 0;
        a_i = sum;
      }
    }
    if (sum > c) {
      if (a_j > c) {
        a_j = c;
        a_i = sum - c;
      }
    } else {
      if (a_i < 0) {
        a_i = 0;
        a_j = sum;
      }
    }
  }
}

// grad_t += Q_ti da_i + Q_tj da_j, with Q_ts = y_t y_s G_ts; yda_i = y_i da_i, yda_j = y_j da_j.
GROOVE_HD inline double grad_step(int y_t, double g_it, double g_jt, double yda_i, double yda_j) {
  return y_t * (mul_rn(g_it, yda_i) + mul_rn(g_jt, yda_j));
}

// One term of the exact recomputation g_t = sum_s a_s y_s G_st (s increasing, zero a_s skipped).
GROOVE_HD inline double gram_term(double a_s, int y_s, double g_st) {
  return mul_rn(a_s * y_s, g_st);
}

// ---------------------------------------------------------------------------------------------
// Bias (LIBSVM's Solver::calculate_rho, with b = -rho): the mean of -y_t grad_t over free
// examples (0 < a_t < C), else the midpoint of the bounds the others impose.

struct BiasAcc {
  double ub, lb;      // bounds on rho
  double sum_free;    // sum of y_t grad_t over free examples
  double n_free;      // number of free examples
  double sum_alpha;   // sum_t a_t
  double w_sq;        // sum_t a_t (grad_t + 1)
  double n_at_bound;  // number of a_t >= C
};
GROOVE_HD inline BiasAcc bias_identity() {
  return {inf(), -inf(), 0.0, 0.0, 0.0, 0.0, 0.0};
}
GROOVE_HD inline BiasAcc bias_combine(const BiasAcc& a, const BiasAcc& b) {
  return {a.ub < b.ub ? a.ub : b.ub, a.lb > b.lb ? a.lb : b.lb, a.sum_free + b.sum_free,    a.n_free + b.n_free,
          a.sum_alpha + b.sum_alpha, a.w_sq + b.w_sq,           a.n_at_bound + b.n_at_bound};
}
GROOVE_HD inline BiasAcc bias_term(int y, double a, double grad, double c) {
  BiasAcc r = bias_identity();
  if (y == 0) return r;
  const double yg = y * grad;
  r.sum_alpha = a;
  r.w_sq = a * (grad + 1.0);
  if (a >= c) {
    r.n_at_bound = 1;
    if (y < 0) {
      r.ub = yg;
    } else {
      r.lb = yg;
    }
  } else if (a <= 0) {
    if (y > 0) {
      r.ub = yg;
    } else {
      r.lb = yg;
    }
  } else {
    r.sum_free = yg;
    r.n_free = 1;
  }
  return r;
}
GROOVE_HD inline double bias_value(const BiasAcc& acc) {
  const double rho = acc.n_free > 0 ? acc.sum_free / acc.n_free : 0.5 * (acc.ub + acc.lb);
  return -rho;
}

// ---------------------------------------------------------------------------------------------
// Distances to the boundary: d_t = y_t f_t / ||w|| with y_t f_t = grad_t + 1 + y_t b.

GROOVE_HD inline double functional_margin(int y, double grad, double b) {
  return grad + 1.0 + y * b;
}

struct MarginAcc {
  double min_distance;
  double n_wrong;  // y_t f_t <= 0
};
GROOVE_HD inline MarginAcc margin_identity() {
  return {inf(), 0.0};
}
GROOVE_HD inline MarginAcc margin_combine(const MarginAcc& a, const MarginAcc& b) {
  return {a.min_distance < b.min_distance ? a.min_distance : b.min_distance, a.n_wrong + b.n_wrong};
}
GROOVE_HD inline MarginAcc margin_term(int y, double grad, double b, double w_norm) {
  if (y == 0) return margin_identity();
  const double m = functional_margin(y, grad, b);
  return {m / w_norm, m <= 0 ? 1.0 : 0.0};
}

// The number of closest examples averaged for a fraction of n: ceil(fraction * n) in [1, n] (the
// 1e-9 absorbs the rounding of fraction * n, so that 0.07 * 100 gives 7).
GROOVE_HD inline std::int64_t closest_count(double fraction, std::int64_t n) {
  std::int64_t k = static_cast<std::int64_t>(ceil(fraction * static_cast<double>(n) - 1e-9));
  if (k < 1) k = 1;
  if (k > n) k = n;
  return k;
}

// An order-preserving map of finite doubles to unsigned keys: a < b <=> order_key(a) < order_key(b)
// (-0 sorts just below +0).
GROOVE_HD inline std::uint64_t order_key(double v) {
  std::uint64_t bits;
#if defined(__CUDA_ARCH__)
  bits = static_cast<std::uint64_t>(__double_as_longlong(v));
#else
  std::memcpy(&bits, &v, sizeof bits);
#endif
  const std::uint64_t sign = std::uint64_t(1) << 63;
  return (bits & sign) ? ~bits : (bits | sign);
}
GROOVE_HD inline double key_value(std::uint64_t key) {
  const std::uint64_t sign = std::uint64_t(1) << 63;
  const std::uint64_t bits = (key & sign) ? (key & ~sign) : ~key;
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
#endif
}

// Bitwise search for the k-th smallest key (1-based): start from prefix 0 and, for bit = 63 .. 0,
// count the keys <= kth_probe(prefix, bit) and set prefix = kth_step(prefix, bit, count, k). The
// result is the smallest key T with #{keys <= T} >= k, i.e. the k-th smallest.
GROOVE_HD inline std::uint64_t kth_probe(std::uint64_t prefix, int bit) {
  return prefix | ((std::uint64_t(1) << bit) - 1);
}
GROOVE_HD inline std::uint64_t kth_step(std::uint64_t prefix, int bit, double count_le, std::int64_t k) {
  return count_le < static_cast<double>(k) ? prefix | (std::uint64_t(1) << bit) : prefix;
}

// Counts (and sums) over the used examples for the two selections run together.
struct KthAcc {
  double count_a, count_b;  // keys <= the probes (search), or < the k-th keys (final pass)
  double sum_a, sum_b;      // sums of the distances < the k-th keys (final pass)
};
GROOVE_HD inline KthAcc kth_identity() {
  return {0.0, 0.0, 0.0, 0.0};
}
GROOVE_HD inline KthAcc kth_combine(const KthAcc& a, const KthAcc& b) {
  return {a.count_a + b.count_a, a.count_b + b.count_b, a.sum_a + b.sum_a, a.sum_b + b.sum_b};
}
GROOVE_HD inline KthAcc kth_count_term(double d, std::uint64_t probe_a, std::uint64_t probe_b) {
  const std::uint64_t key = order_key(d);
  return {key <= probe_a ? 1.0 : 0.0, key <= probe_b ? 1.0 : 0.0, 0.0, 0.0};
}
GROOVE_HD inline KthAcc kth_sum_term(double d, std::uint64_t kth_a, std::uint64_t kth_b) {
  const std::uint64_t key = order_key(d);
  const bool a = key < kth_a, b = key < kth_b;
  return {a ? 1.0 : 0.0, b ? 1.0 : 0.0, a ? d : 0.0, b ? d : 0.0};
}
// The mean of the k smallest: those below the k-th key, plus copies of the k-th value.
GROOVE_HD inline double kth_mean(double sum_below, double count_below, std::uint64_t kth, std::int64_t k) {
  return (sum_below + (static_cast<double>(k) - count_below) * key_value(kth)) / static_cast<double>(k);
}

}  // namespace groove::svm
