// The linear SVM (ops::svm_dual_solve, kernels/svm_math.h) and the max-margin statistic
// (metrics::svm_max_margin) on the CPU, against independent references: hand-built sets with a
// max margin, w and b known by construction; the distance between convex hulls computed by brute
// force in 2-D; the KKT conditions checked with direct dense formulas; sorting for the closest
// distances.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/svm_ops.h"
#include "metrics/svm.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A labelled point set: x [P, N] row-major, y in {+1, -1, 0}.
struct Problem {
  std::int64_t P = 0, N = 0;
  std::vector<double> x, y;
  const double* point(std::int64_t i) const { return &x[i * N]; }
};

Problem make_problem(std::int64_t N, const std::vector<std::vector<double>>& pos,
                     const std::vector<std::vector<double>>& neg) {
  Problem p;
  p.N = N;
  for (const auto* set : {&pos, &neg}) {
    for (const auto& v : *set) {
      p.x.insert(p.x.end(), v.begin(), v.end());
      p.y.push_back(set == &pos ? 1.0 : -1.0);
    }
  }
  p.P = static_cast<std::int64_t>(p.y.size());
  return p;
}

// x -> s * x + t.
Problem transformed(Problem p, double s, const std::vector<double>& t) {
  for (std::int64_t i = 0; i < p.P; ++i) {
    for (std::int64_t n = 0; n < p.N; ++n) p.x[i * p.N + n] = s * p.x[i * p.N + n] + t[n];
  }
  return p;
}

// Random points for given labels with max margin >= gap: uniform z in [-1, 1]^N moved along a
// random unit normal u so that y (u . x + b0) = gap + |u . z + b0|.
Problem separable_for(const std::vector<double>& y, std::int64_t N, double gap, std::uint64_t seed) {
  Problem p;
  p.P = static_cast<std::int64_t>(y.size());
  p.N = N;
  p.y = y;
  const Tensor z = test::random_tensor({p.P, N}, DType::f64, seed, -1.0, 1.0, false);
  const Tensor u_raw = test::random_tensor({N + 1}, DType::f64, seed + 1, -1.0, 1.0, false);
  std::vector<double> u(N);
  double un = 0;
  for (std::int64_t n = 0; n < N; ++n) un += u_raw.flat<double>(n) * u_raw.flat<double>(n);
  for (std::int64_t n = 0; n < N; ++n) u[n] = u_raw.flat<double>(n) / std::sqrt(un);
  const double b0 = 0.1 * u_raw.flat<double>(N);
  p.x.resize(p.P * N);
  for (std::int64_t i = 0; i < p.P; ++i) {
    double s = b0;
    for (std::int64_t n = 0; n < N; ++n) s += u[n] * z.flat<double>(i * N + n);
    const double shift = p.y[i] * (gap + std::fabs(s)) - s;
    for (std::int64_t n = 0; n < N; ++n) p.x[i * N + n] = z.flat<double>(i * N + n) + shift * u[n];
  }
  return p;
}

// Labels +1 with probability pos_fraction (examples 0 and 1: +1 and -1, so both classes occur).
std::vector<double> random_labels(std::int64_t P, double pos_fraction, std::uint64_t seed) {
  const Tensor coin = test::random_tensor({P}, DType::f64, seed, 0.0, 1.0, false);
  std::vector<double> y(P);
  for (std::int64_t i = 0; i < P; ++i) y[i] = coin.flat<double>(i) < pos_fraction ? 1.0 : -1.0;
  y[0] = 1.0;
  y[1] = -1.0;
  return y;
}

Problem random_separable(std::int64_t P, std::int64_t N, double gap, double pos_fraction, std::uint64_t seed) {
  return separable_for(random_labels(P, pos_fraction, seed + 7), N, gap, seed);
}

std::vector<double> gram_of(const Problem& p) {
  std::vector<double> g(p.P * p.P);
  for (std::int64_t i = 0; i < p.P; ++i) {
    for (std::int64_t j = 0; j < p.P; ++j) {
      double s = 0;
      for (std::int64_t n = 0; n < p.N; ++n) s += p.point(i)[n] * p.point(j)[n];
      g[i * p.P + j] = s;
    }
  }
  return g;
}

// The op's outputs for one model.
struct Solution {
  std::vector<double> alpha;
  double bias = kNaN;
  int iterations = 0, status = -1;
  std::vector<double> summary;
};

// Solves K problems of equal P in one call (per-model y, or shared y when `shared_y`).
std::vector<Solution> solve_all(const std::vector<Problem>& probs, const ops::SvmSolveOptions& o, Context& ctx,
                                bool shared_y = false) {
  const std::int64_t K = static_cast<std::int64_t>(probs.size()), P = probs[0].P;
  std::vector<double> g, y;
  for (const Problem& p : probs) {
    const std::vector<double> gp = gram_of(p);
    g.insert(g.end(), gp.begin(), gp.end());
    y.insert(y.end(), p.y.begin(), p.y.end());
  }
  Tensor gram = Tensor::from_vector<double>({K, P, P}, g);
  Tensor yt = shared_y ? Tensor::from_vector<double>({P}, probs[0].y) : Tensor::from_vector<double>({K, P}, y);
  Tensor alpha = Tensor::host({K, P}, DType::f64), bias = Tensor::host({K}, DType::f64);
  Tensor info = Tensor::host({K, 2}, DType::i32), summary = Tensor::host({K, svm::kSummaryColumns}, DType::f64);
  ops::svm_dual_solve(alpha, bias, info, summary, gram, yt, o, ctx);
  std::vector<Solution> out(K);
  for (std::int64_t k = 0; k < K; ++k) {
    out[k].alpha.assign(alpha.data<double>() + k * P, alpha.data<double>() + (k + 1) * P);
    out[k].bias = bias.flat<double>(k);
    out[k].iterations = info.flat<std::int32_t>(2 * k);
    out[k].status = info.flat<std::int32_t>(2 * k + 1);
    out[k].summary.assign(summary.data<double>() + k * svm::kSummaryColumns,
                          summary.data<double>() + (k + 1) * svm::kSummaryColumns);
  }
  return out;
}

Solution solve(const Problem& p, const ops::SvmSolveOptions& o, Context& ctx) {
  return solve_all({p}, o, ctx)[0];
}

// w = sum_i a_i y_i x_i, and the decision values f_i = w . x_i + b (direct formulas).
std::vector<double> weights(const Problem& p, const Solution& s) {
  std::vector<double> w(p.N, 0.0);
  for (std::int64_t i = 0; i < p.P; ++i) {
    for (std::int64_t n = 0; n < p.N; ++n) w[n] += s.alpha[i] * p.y[i] * p.point(i)[n];
  }
  return w;
}
double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
std::vector<double> decisions(const Problem& p, const Solution& s) {
  const std::vector<double> w = weights(p, s);
  std::vector<double> f(p.P);
  for (std::int64_t i = 0; i < p.P; ++i) {
    double v = s.bias;
    for (std::int64_t n = 0; n < p.N; ++n) v += w[n] * p.point(i)[n];
    f[i] = v;
  }
  return f;
}

// Mean of the ceil(fraction * n) smallest values (the definition, by sorting).
double mean_smallest(std::vector<double> v, double fraction) {
  std::sort(v.begin(), v.end());
  const std::int64_t n = static_cast<std::int64_t>(v.size());
  std::int64_t k = static_cast<std::int64_t>(std::ceil(fraction * static_cast<double>(n) - 1e-9));
  k = std::clamp<std::int64_t>(k, 1, n);
  return std::accumulate(v.begin(), v.begin() + k, 0.0) / static_cast<double>(k);
}

// Distance between the convex hulls of two 2-D point sets, by brute force: the minimum over
// point-segment pairs across the sets (segments between any two points of a set), valid when
// the hulls do not intersect. The max margin is half of it.
double point_segment(const double* p, const double* a, const double* b) {
  const double dx = b[0] - a[0], dy = b[1] - a[1];
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = a[0] + t * dx - p[0], ey = a[1] + t * dy - p[1];
  return std::sqrt(ex * ex + ey * ey);
}
double hull_distance_2d(const Problem& p, double y_a, double y_b) {
  double best = kInf;
  for (int pass = 0; pass < 2; ++pass) {
    const double ys = pass == 0 ? y_a : y_b, yo = pass == 0 ? y_b : y_a;
    for (std::int64_t i = 0; i < p.P; ++i) {
      if (p.y[i] != ys) continue;
      for (std::int64_t j = 0; j < p.P; ++j) {
        if (p.y[j] != yo) continue;
        for (std::int64_t l = j; l < p.P; ++l) {
          if (p.y[l] != yo) continue;
          best = std::min(best, point_segment(p.point(i), p.point(j), p.point(l)));
        }
      }
    }
  }
  return best;
}

ops::SvmSolveOptions hard(double resolution = 1e-6) {
  ops::SvmSolveOptions o;
  o.resolution = resolution;
  return o;
}

// Checks the KKT conditions of a hard-margin (or soft, C finite) solution with direct formulas,
// and every summary column against its definition.
// rel: relative tolerance of the summary columns (the rounding of the Gram matrix, amplified by the
// conditioning of the set: (offset / scale)^2 eps for a set far from the origin).
void expect_kkt(const Problem& p, const Solution& s, const ops::SvmSolveOptions& o, double c = kInf,
                double rel = 1e-9) {
  ASSERT_EQ(s.status, svm::kConverged) << "iterations " << s.iterations;
  const std::vector<double> f = decisions(p, s);
  const double slack = o.tol + rel;
  double sum_ya = 0, sum_a = 0;
  for (std::int64_t i = 0; i < p.P; ++i) {
    const double a = s.alpha[i];
    sum_a += a;
    sum_ya += p.y[i] * a;
    if (p.y[i] == 0) {
      EXPECT_EQ(a, 0.0) << "unused example " << i;
      continue;
    }
    EXPECT_GE(a, 0.0) << i;
    EXPECT_LE(a, c) << i;
    const double yf = p.y[i] * f[i];
    if (a < c) {
      EXPECT_GE(yf, 1.0 - slack) << "example " << i << " alpha " << a;
    }
    if (a > 0 && a < c) {
      EXPECT_NEAR(yf, 1.0, slack) << "support vector " << i << " alpha " << a;
    }
    if (a >= c) {
      EXPECT_LE(yf, 1.0 + slack) << "bounded example " << i;
    }
  }
  EXPECT_LE(std::fabs(sum_ya), 1e-10 * sum_a) << "sum y a";
  // The summary against direct formulas.
  const double w_norm = norm(weights(p, s));
  EXPECT_NEAR(s.summary[svm::kWNorm], w_norm, rel * w_norm);
  std::vector<double> d;
  double n_wrong = 0, n_bound = 0;
  std::vector<double> mean_x(p.N, 0.0);
  for (std::int64_t i = 0; i < p.P; ++i) {
    if (p.y[i] == 0) continue;
    d.push_back(p.y[i] * f[i] / w_norm);
    n_wrong += p.y[i] * f[i] <= 0;
    n_bound += s.alpha[i] >= c;
    for (std::int64_t n = 0; n < p.N; ++n) mean_x[n] += p.point(i)[n];
  }
  const double n_used = static_cast<double>(d.size());
  double s2 = 0;
  for (std::int64_t i = 0; i < p.P; ++i) {
    if (p.y[i] == 0) continue;
    for (std::int64_t n = 0; n < p.N; ++n) {
      const double e = p.point(i)[n] - mean_x[n] / n_used;
      s2 += e * e / n_used;
    }
  }
  const double tol_d = rel * (1 + 1 / w_norm);
  EXPECT_NEAR(s.summary[svm::kMinDistance], *std::min_element(d.begin(), d.end()), tol_d);
  EXPECT_NEAR(s.summary[svm::kClosestA], mean_smallest(d, o.closest_fractions[0]), tol_d);
  EXPECT_NEAR(s.summary[svm::kClosestB], mean_smallest(d, o.closest_fractions[1]), tol_d);
  EXPECT_EQ(s.summary[svm::kWrong], n_wrong);
  EXPECT_EQ(s.summary[svm::kAtBound], n_bound);
  EXPECT_NEAR(s.summary[svm::kMarginBound], w_norm / sum_a, rel * w_norm / sum_a);
  EXPECT_NEAR(s.summary[svm::kScale], std::sqrt(s2), rel * std::sqrt(s2));
  if (n_bound == 0) {
    // Hard margin: the margin 1/||w|| equals the smallest distance and the bound ||w|| / sum a.
    EXPECT_NEAR(s.summary[svm::kMinDistance] * w_norm, 1.0, 2 * slack);
    EXPECT_NEAR(s.summary[svm::kMarginBound] * w_norm, 1.0, 2 * slack);
  }
}

// ---------------------------------------------------------------------------------------------
// The shared math

TEST(SvmMath, OrderKeyIsMonotoneAndInvertible) {
  const std::vector<double> v = {-kInf, -1e300, -2.5, -1.0, -1e-310, -0.0, 0.0, 1e-310, 1e-3, 1.0, 7.5, 1e300, kInf};
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double back = svm::key_value(svm::order_key(v[i]));
    EXPECT_EQ(back, v[i]);
    EXPECT_EQ(std::signbit(back), std::signbit(v[i])) << v[i];
    if (i > 0) {
      EXPECT_LT(svm::order_key(v[i - 1]), svm::order_key(v[i])) << v[i - 1] << " vs " << v[i];
    }
  }
}

TEST(SvmMath, ClosestCountIsCeilOfTheFraction) {
  EXPECT_EQ(svm::closest_count(0.01, 1), 1);
  EXPECT_EQ(svm::closest_count(0.01, 100), 1);
  EXPECT_EQ(svm::closest_count(0.01, 101), 2);
  EXPECT_EQ(svm::closest_count(0.05, 100), 5);
  EXPECT_EQ(svm::closest_count(0.07, 100), 7);
  EXPECT_EQ(svm::closest_count(0.05, 401), 21);
  EXPECT_EQ(svm::closest_count(1.0, 37), 37);
}

TEST(SvmMath, KthSearchGivesTheMeanOfTheSmallest) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    for (std::int64_t n : {1, 2, 17, 300}) {
      const Tensor r = test::random_tensor({n}, DType::f64, seed * 1000 + n, -3.0, 3.0, false);
      std::vector<double> v(n);
      for (std::int64_t i = 0; i < n; ++i) v[i] = std::round(r.flat<double>(i) * 4) / 4;  // many ties
      for (double fa : {0.01, 0.05, 0.3, 1.0}) {
        const std::int64_t k = svm::closest_count(fa, n);
        std::uint64_t kth = 0;
        for (int bit = 63; bit >= 0; --bit) {
          const std::uint64_t probe = svm::kth_probe(kth, bit);
          svm::KthAcc acc = svm::kth_identity();
          for (double d : v) acc = svm::kth_combine(acc, svm::kth_count_term(d, probe, probe));
          kth = svm::kth_step(kth, bit, acc.count_a, k);
        }
        svm::KthAcc acc = svm::kth_identity();
        for (double d : v) acc = svm::kth_combine(acc, svm::kth_sum_term(d, kth, kth));
        EXPECT_NEAR(svm::kth_mean(acc.sum_a, acc.count_a, kth, k), mean_smallest(v, fa), 1e-12)
            << "n " << n << " fraction " << fa;
      }
    }
  }
}

TEST(SvmMath, PairUpdateKeepsTheEqualityAndTheBox) {
  const Tensor r = test::random_tensor({400, 7}, DType::f64, 77, -2.0, 2.0, false);
  for (std::int64_t t = 0; t < 400; ++t) {
    const double* v = r.data<double>() + 7 * t;
    const int yi = v[0] > 0 ? 1 : -1, yj = v[1] > 0 ? 1 : -1;
    const double c = t % 2 ? kInf : 1.5;
    double ai = std::min(std::fabs(v[2]), 1.5), aj = std::min(std::fabs(v[3]), 1.5);
    const double before = yi * ai + yj * aj;
    // A Gram block of two points in the plane.
    const double g_ii = v[4] * v[4] + 1, g_jj = v[5] * v[5] + 0.5, g_ij = v[4] * v[5] + v[6] * 0.3;
    const double grad_i = v[6], grad_j = -v[2];
    svm::pair_update(yi, yj, grad_i, grad_j, g_ii, g_jj, g_ij, c, ai, aj);
    EXPECT_NEAR(yi * ai + yj * aj, before, 1e-12) << t;
    EXPECT_GE(ai, 0.0) << t;
    EXPECT_GE(aj, 0.0) << t;
    EXPECT_LE(ai, c) << t;
    EXPECT_LE(aj, c) << t;
  }
  // Unclipped, the step is the exact minimizer along the direction: two points x_i = 1, x_j = -1
  // (G = [[1, -1], [-1, 1]]), y = (+1, -1), a = 0, grad = -1: the optimum a_i = a_j = 1/2.
  double ai = 0, aj = 0;
  svm::pair_update(1, -1, -1.0, -1.0, 1.0, 1.0, -1.0, kInf, ai, aj);
  EXPECT_DOUBLE_EQ(ai, 0.5);
  EXPECT_DOUBLE_EQ(aj, 0.5);
}

// ---------------------------------------------------------------------------------------------
// ops::svm_dual_solve

TEST(SvmSolve, TwoPoints) {
  Context ctx;
  const Problem p = make_problem(2, {{1, 0}}, {{-1, 0}});
  const Solution s = solve(p, hard(), ctx);
  ASSERT_EQ(s.status, svm::kConverged);
  EXPECT_NEAR(s.alpha[0], 0.5, 1e-12);
  EXPECT_NEAR(s.alpha[1], 0.5, 1e-12);
  EXPECT_NEAR(s.bias, 0.0, 1e-12);
  EXPECT_NEAR(s.summary[svm::kWNorm], 1.0, 1e-12);
  EXPECT_NEAR(s.summary[svm::kMinDistance], 1.0, 1e-12);
  EXPECT_EQ(s.iterations, 1);
}

TEST(SvmSolve, HandBuilt2DUnbalanced) {
  // Four positives right of x = 2, one negative at the origin: the max-margin boundary is x = 1,
  // w = (1, 0), b = -1, margin 1; distances 1, 1, 2, 4 (positives) and 1 (negative).
  Context ctx;
  const Problem p = make_problem(2, {{2, 0}, {2, 1}, {3, -1}, {5, 2}}, {{0, 0}});
  ops::SvmSolveOptions o = hard();
  o.closest_fractions[0] = 0.4;  // k = 2: (1 + 1) / 2
  o.closest_fractions[1] = 0.8;  // k = 4: (1 + 1 + 1 + 2) / 4
  const Solution s = solve(p, o, ctx);
  expect_kkt(p, s, o);
  const std::vector<double> w = weights(p, s);
  EXPECT_NEAR(w[0], 1.0, 1e-6);
  EXPECT_NEAR(w[1], 0.0, 1e-6);
  EXPECT_NEAR(s.bias, -1.0, 1e-6);
  EXPECT_NEAR(1 / s.summary[svm::kWNorm], 1.0, 1e-6);
  EXPECT_NEAR(s.summary[svm::kClosestA], 1.0, 1e-6);
  EXPECT_NEAR(s.summary[svm::kClosestB], 1.25, 1e-6);
  EXPECT_EQ(s.alpha[3], 0.0);  // (5, 2) is no support vector
}

TEST(SvmSolve, HandBuilt3DTranslatedAndScaled) {
  // Positives at z >= 1, negatives at z <= -1, with (0, 0, 1) and (0, 0, -1) among them: the max
  // margin is 1 with the boundary z = 0. Under x -> s x + t: margin s, w = (0, 0, 1/s), b = -t_z / s.
  const Problem base = make_problem(3, {{0, 0, 1}, {1, 0, 1}, {0, 1, 2}, {2, -1, 1.5}, {-3, 2, 4}},
                                    {{0, 0, -1}, {1, 1, -3}, {-1, 0, -1}});
  Context ctx;
  for (double scale : {1.0, 1e-3, 1e3}) {
    const std::vector<double> t = {10, -5, 3};
    const Problem p = transformed(base, scale, t);
    const ops::SvmSolveOptions o = hard();
    const Solution s = solve(p, o, ctx);
    SCOPED_TRACE(::testing::Message() << "scale " << scale);
    // G has entries ~ |t|^2 = 134 around a signal ~ scale^2: relative rounding ~ 1e-16 * 134 / scale^2.
    expect_kkt(p, s, o, kInf, std::max(1e-9, 1e-14 * 134 / (scale * scale)));
    const std::vector<double> w = weights(p, s);
    EXPECT_NEAR(1 / s.summary[svm::kWNorm], scale, 1e-6 * scale) << scale;
    EXPECT_NEAR(w[0] * scale, 0.0, 1e-6) << scale;
    EXPECT_NEAR(w[1] * scale, 0.0, 1e-6) << scale;
    EXPECT_NEAR(w[2] * scale, 1.0, 1e-6) << scale;
    EXPECT_NEAR(s.bias, -t[2] / scale, 1e-6 * (1 + std::fabs(t[2] / scale))) << scale;
    EXPECT_NEAR(s.summary[svm::kScale] / scale, solve(base, o, ctx).summary[svm::kScale], 1e-6);
  }
}

TEST(SvmSolve, MarginIsHalfTheHullDistanceIn2D) {
  Context ctx;
  int seed = 500;
  for (std::int64_t P : {6, 13, 40, 90}) {
    for (double frac : {0.5, 0.15}) {
      const Problem p = random_separable(P, 2, 0.05, frac, ++seed);
      const ops::SvmSolveOptions o = hard();
      const Solution s = solve(p, o, ctx);
      expect_kkt(p, s, o);
      const double expected = hull_distance_2d(p, 1.0, -1.0) / 2;
      EXPECT_NEAR(1 / s.summary[svm::kWNorm], expected, 1e-6 * expected) << "P " << P << " fraction " << frac;
    }
  }
}

TEST(SvmSolve, KktOnRandomSeparableSets) {
  Context ctx;
  struct Size {
    std::int64_t P, N;
    double gap, frac;
  };
  int seed = 900;
  for (Size z : {Size{20, 2, 0.1, 0.5}, Size{150, 50, 0.02, 0.3}, Size{400, 200, 0.05, 0.5}, Size{300, 10, 0.01, 0.9},
                 Size{257, 64, 0.0, 0.5}}) {
    const Problem p = random_separable(z.P, z.N, z.gap, z.frac, ++seed);
    const ops::SvmSolveOptions o = hard(0.0);
    const Solution s = solve(p, o, ctx);
    SCOPED_TRACE(::testing::Message() << "P " << z.P << " N " << z.N);
    expect_kkt(p, s, o);
    EXPECT_GE(1 / s.summary[svm::kWNorm], z.gap * (1 - 1e-6));  // the construction's margin is a lower bound
  }
}

TEST(SvmSolve, EnsembleSolvesEachModel) {
  // K problems in one call equal the problems solved alone; a shared y equals the same y per model.
  Context ctx;
  std::vector<Problem> probs;
  for (int k = 0; k < 5; ++k) probs.push_back(random_separable(60, 8, 0.05, 0.4, 1200 + k));
  const ops::SvmSolveOptions o = hard();
  const std::vector<Solution> all = solve_all(probs, o, ctx);
  for (int k = 0; k < 5; ++k) {
    const Solution one = solve(probs[k], o, ctx);
    EXPECT_EQ(all[k].alpha, one.alpha) << k;
    EXPECT_EQ(all[k].bias, one.bias) << k;
    EXPECT_EQ(all[k].iterations, one.iterations) << k;
    expect_kkt(probs[k], all[k], o);
  }
  std::vector<Problem> same_y = probs;
  for (Problem& p : same_y) p.y = probs[0].y;  // other labels: not separable in general; still a solve
  const ops::SvmSolveOptions o4 = hard(1e-4);
  const std::vector<Solution> per_model = solve_all(same_y, o4, ctx), shared = solve_all(same_y, o4, ctx, true);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(per_model[k].alpha, shared[k].alpha) << k;
    EXPECT_EQ(per_model[k].status, shared[k].status) << k;
  }
}

TEST(SvmSolve, NonSeparableSetsAreReported) {
  Context ctx;
  // XOR: the hulls cross at (0.5, 0.5); with resolution > 0 the solver stops with the certificate.
  const Problem xorp = make_problem(2, {{0, 0}, {1, 1}}, {{1, 0}, {0, 1}});
  for (double res : {1e-3, 1e-6}) {
    const Solution s = solve(xorp, hard(res), ctx);
    EXPECT_EQ(s.status, svm::kBelowResolution) << res;
    EXPECT_LE(s.summary[svm::kMarginBound], res * s.summary[svm::kScale]) << res;
  }
  // Two identical points with opposite labels: ||w|| = 0 after one step, certified even with resolution 0.
  const Problem same = make_problem(2, {{1, 2}, {3, 3}}, {{1, 2}});
  const Solution s0 = solve(same, hard(0.0), ctx);
  EXPECT_EQ(s0.status, svm::kBelowResolution);
  // Random labels on random points: overlapping classes.
  Problem noisy = random_separable(200, 5, 0.0, 0.5, 31);
  const Tensor coin = test::random_tensor({200}, DType::f64, 32, 0.0, 1.0, false);
  for (std::int64_t i = 0; i < 200; ++i) noisy.y[i] = coin.flat<double>(i) < 0.5 ? 1.0 : -1.0;
  const Solution sn = solve(noisy, hard(1e-4), ctx);
  EXPECT_EQ(sn.status, svm::kBelowResolution) << sn.iterations;
  EXPECT_GT(sn.summary[svm::kWrong], 0);
  // The soft margin (finite C) converges on the same set and satisfies its KKT conditions.
  ops::SvmSolveOptions soft = hard(0.0);
  soft.c = 2.0;
  const Solution ss = solve(noisy, soft, ctx);
  expect_kkt(noisy, ss, soft, 2.0);
  EXPECT_GT(ss.summary[svm::kAtBound], 0);
  // A relative C gives the same solution as the absolute C it stands for.
  ops::SvmSolveOptions rel = soft;
  rel.relative_c = true;
  rel.c = 2.0 * ss.summary[svm::kScale] * ss.summary[svm::kScale];
  const Solution sr = solve(noisy, rel, ctx);
  EXPECT_EQ(sr.status, svm::kConverged);
  EXPECT_NEAR(sr.bias, ss.bias, 1e-6);
  EXPECT_NEAR(sr.summary[svm::kWNorm], ss.summary[svm::kWNorm], 1e-6 * ss.summary[svm::kWNorm]);
  EXPECT_EQ(sr.summary[svm::kAtBound], ss.summary[svm::kAtBound]);
}

TEST(SvmSolve, UnusedExamplesAreIgnored) {
  // Examples with y = 0 sit inside the margin (or on the wrong side); the solution equals the one
  // of the used examples alone.
  Context ctx;
  const Problem p = random_separable(50, 4, 0.2, 0.5, 71);
  Problem with = p;
  const Tensor extra = test::random_tensor({9, 4}, DType::f64, 72, -0.05, 0.05, false);
  for (std::int64_t i = 0; i < 9; ++i) {
    with.x.insert(with.x.begin() + 3 * 4 * i, extra.data<double>() + 4 * i, extra.data<double>() + 4 * i + 4);
    with.y.insert(with.y.begin() + 3 * i, i % 3 == 0 ? 0.0 : -0.0);
  }
  with.P += 9;
  const ops::SvmSolveOptions o = hard();
  const Solution a = solve(p, o, ctx), b = solve(with, o, ctx);
  expect_kkt(with, b, o);
  std::vector<double> used_alpha;
  for (std::int64_t i = 0; i < with.P; ++i) {
    if (with.y[i] != 0) used_alpha.push_back(b.alpha[i]);
  }
  ASSERT_EQ(used_alpha.size(), a.alpha.size());
  for (std::size_t i = 0; i < a.alpha.size(); ++i) EXPECT_NEAR(used_alpha[i], a.alpha[i], 1e-9) << i;
  EXPECT_NEAR(a.bias, b.bias, 1e-9);
  for (int c = 0; c < svm::kSummaryColumns; ++c) EXPECT_NEAR(a.summary[c], b.summary[c], 1e-9) << "column " << c;
}

TEST(SvmSolve, OneClassAndMaxIter) {
  Context ctx;
  Problem p = random_separable(30, 3, 0.1, 0.5, 81);
  for (double& y : p.y) y = y > 0 ? 1.0 : 0.0;
  const Solution s = solve(p, hard(), ctx);
  EXPECT_EQ(s.status, svm::kOneClass);
  EXPECT_EQ(s.iterations, 0);
  EXPECT_TRUE(std::isnan(s.bias));
  EXPECT_TRUE(std::isnan(s.summary[svm::kMinDistance]));
  for (double a : s.alpha) EXPECT_EQ(a, 0.0);

  const Problem q = random_separable(200, 20, 0.01, 0.5, 82);
  ops::SvmSolveOptions o = hard();
  o.max_iter = 3;
  const Solution m = solve(q, o, ctx);
  EXPECT_EQ(m.status, svm::kMaxIter);
  EXPECT_EQ(m.iterations, 3);
  double sum_ya = 0;
  for (std::int64_t i = 0; i < q.P; ++i) sum_ya += q.y[i] * m.alpha[i];
  EXPECT_NEAR(sum_ya, 0.0, 1e-12);
  EXPECT_EQ(ops::svm_default_max_iter(10), 1000000);
  EXPECT_EQ(ops::svm_default_max_iter(20000), 2000000);
}

// The message of the error `body` throws (empty when it throws none).
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SvmSolve, BadArgumentsNameTheTensor) {
  Context ctx;
  const std::int64_t K = 2, P = 5;
  Tensor gram = Tensor::host_zeros({K, P, P}, DType::f64), y = Tensor::host_zeros({K, P}, DType::f64);
  Tensor alpha = Tensor::host({K, P}, DType::f64), bias = Tensor::host({K}, DType::f64);
  Tensor info = Tensor::host({K, 2}, DType::i32), summary = Tensor::host({K, svm::kSummaryColumns}, DType::f64);
  ops::SvmSolveOptions o;
  auto run = [&](Tensor& a, Tensor& b, Tensor& i, Tensor& s, const Tensor& g, const Tensor& yy,
                 const ops::SvmSolveOptions& oo) { ops::svm_dual_solve(a, b, i, s, g, yy, oo, ctx); };
  EXPECT_EQ(error_of([&] { run(alpha, bias, info, summary, gram, y, o); }), "");
  Tensor g_bad = Tensor::host_zeros({K, P, P + 1}, DType::f64), g_f32 = Tensor::host_zeros({K, P, P}, DType::f32);
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, g_bad, y, o); }).find("'gram'"), std::string::npos);
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, g_f32, y, o); }).find("'gram'"), std::string::npos);
  Tensor y_bad = Tensor::host_zeros({K, P + 1}, DType::f64);
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, gram, y_bad, o); }).find("'y'"), std::string::npos);
  Tensor a_bad = Tensor::host({K + 1, P}, DType::f64);
  EXPECT_NE(error_of([&] { run(a_bad, bias, info, summary, gram, y, o); }).find("'alpha'"), std::string::npos);
  Tensor b_bad = Tensor::host({K, 1}, DType::f64);
  EXPECT_NE(error_of([&] { run(alpha, b_bad, info, summary, gram, y, o); }).find("'bias'"), std::string::npos);
  Tensor i_bad = Tensor::host({K, 2}, DType::f64);
  EXPECT_NE(error_of([&] { run(alpha, bias, i_bad, summary, gram, y, o); }).find("'info'"), std::string::npos);
  Tensor s_bad = Tensor::host({K, 3}, DType::f64);
  EXPECT_NE(error_of([&] { run(alpha, bias, info, s_bad, gram, y, o); }).find("'summary'"), std::string::npos);
  Tensor none;
  EXPECT_EQ(error_of([&] { run(alpha, bias, info, none, gram, y, o); }), "");  // summary is optional
  Tensor alias = gram.reshape({K * P * P});
  Tensor alias_view = alias.reshape({K, P, P});
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, alias_view, alias_view, o); }).find("'y'"),
            std::string::npos);
  ops::SvmSolveOptions bad = o;
  bad.tol = 0;
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, gram, y, bad); }).find("options.tol"), std::string::npos);
  bad = o;
  bad.c = -1;
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, gram, y, bad); }).find("options.c"), std::string::npos);
  bad = o;
  bad.closest_fractions[1] = 0;
  EXPECT_NE(error_of([&] { run(alpha, bias, info, summary, gram, y, bad); }).find("closest_fractions"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// metrics::svm_max_margin

// Features [K, P, N] of several problems with the same labels (labels from problems[0].y > 0).
Tensor features_of(const std::vector<Problem>& probs, DType dtype) {
  const std::int64_t K = static_cast<std::int64_t>(probs.size()), P = probs[0].P, N = probs[0].N;
  std::vector<double> x;
  for (const Problem& p : probs) x.insert(x.end(), p.x.begin(), p.x.end());
  Tensor t = Tensor::from_vector<double>({K, P, N}, x);
  if (dtype == DType::f64) return t;
  Context ctx;
  Tensor f = Tensor::host({K, P, N}, DType::f32);
  ops::convert(f, t, ctx);
  return f;
}
Tensor labels_of(const Problem& p) {
  std::vector<std::int32_t> l(p.P);
  for (std::int64_t i = 0; i < p.P; ++i) l[i] = p.y[i] > 0 ? 1 : 0;
  return Tensor::from_vector<std::int32_t>({p.P}, l);
}

TEST(SvmMaxMargin, HandBuiltEnsembleScalesWithTheFeatures) {
  // Model k: the 3-D hand-built set scaled by 2^k and translated: margin 2^k, distances 2^k (SVs).
  const Problem base = make_problem(3, {{0, 0, 1}, {1, 0, 1}, {0, 1, 2}, {2, -1, 1.5}, {-3, 2, 4}},
                                    {{0, 0, -1}, {1, 1, -3}, {-1, 0, -1}});
  std::vector<Problem> probs;
  for (int k = 0; k < 4; ++k) probs.push_back(transformed(base, std::ldexp(1.0, k), {1.0 * k, -2.0, 5.0}));
  Context ctx;
  for (DType dt : {DType::f64, DType::f32}) {
    const metrics::SvmStats st = metrics::svm_max_margin(features_of(probs, dt), labels_of(base), 2, {}, ctx);
    ASSERT_EQ(st.margin.size(), 4u);
    const double tol = dt == DType::f64 ? 1e-6 : 1e-5;
    for (int k = 0; k < 4; ++k) {
      const double m = std::ldexp(1.0, k);
      EXPECT_NEAR(st.margin[k], m, tol * m) << dtype_name(dt) << " model " << k;
      EXPECT_NEAR(st.min_distance[k], m, tol * m);
      EXPECT_NEAR(st.closest_1pct[k], m, tol * m);  // ceil(0.08) = 1 example
      EXPECT_NEAR(st.closest_5pct[k], m, tol * m);  // ceil(0.4) = 1 example
      EXPECT_NEAR(st.margin_bound[k], m, tol * m);
      EXPECT_EQ(st.separable[k], 1);
      EXPECT_EQ(st.converged[k], 1);
      EXPECT_GT(st.iterations[k], 0);
    }
    // classes = 1 (a binary output) is the same problem.
    const metrics::SvmStats st1 = metrics::svm_max_margin(features_of(probs, dt), labels_of(base), 1, {}, ctx);
    EXPECT_EQ(st1.margin, st.margin);
  }
}

TEST(SvmMaxMargin, MatchesTheOpOnRandomSetsAndReportsOverlap) {
  // Three models sharing labels: models 0 and 2 separable, model 1 with random points (overlap).
  Context ctx;
  const std::vector<double> y = random_labels(120, 0.3, 1499);
  Problem p1 = separable_for(y, 6, 0.05, 1501);
  const Tensor noise = test::random_tensor({120, 6}, DType::f64, 1503, -1.0, 1.0, false);
  for (std::int64_t i = 0; i < 120 * 6; ++i) p1.x[i] = noise.flat<double>(i);
  const std::vector<Problem> probs = {separable_for(y, 6, 0.05, 1500), p1, separable_for(y, 6, 0.01, 1502)};
  metrics::SvmOptions mo;
  const metrics::SvmStats st = metrics::svm_max_margin(features_of(probs, DType::f64), labels_of(probs[0]), 2, mo, ctx);
  ops::SvmSolveOptions o = hard(mo.resolution);
  for (int k = 0; k < 3; ++k) {
    const Solution s = solve(probs[k], o, ctx);
    const double sc = s.summary[svm::kScale];
    EXPECT_EQ(st.separable[k], s.summary[svm::kWrong] == 0 ? 1 : 0) << k;
    if (k != 1) {
      ASSERT_EQ(s.status, svm::kConverged) << k;
      EXPECT_NEAR(st.margin[k], 1 / s.summary[svm::kWNorm], 1e-6 * sc) << k;
      EXPECT_NEAR(st.min_distance[k], s.summary[svm::kMinDistance], 1e-6 * sc) << k;
      EXPECT_NEAR(st.closest_1pct[k], s.summary[svm::kClosestA], 1e-6 * sc) << k;
      EXPECT_NEAR(st.closest_5pct[k], s.summary[svm::kClosestB], 1e-6 * sc) << k;
      EXPECT_EQ(st.separable[k], 1) << k;
      EXPECT_EQ(st.converged[k], 1) << k;
    }
  }
  EXPECT_EQ(st.separable[1], 0);
  EXPECT_TRUE(std::isnan(st.margin[1]));
  EXPECT_LT(st.min_distance[1], 0);
  EXPECT_LE(st.margin_bound[1], mo.resolution * solve(probs[1], o, ctx).summary[svm::kScale] * (1 + 1e-9));
  EXPECT_EQ(st.converged[1], 1);
}

TEST(SvmMaxMargin, OneVsRestIsTheWorstClass) {
  // Three clusters in the plane; each one-vs-rest margin is half the distance between the hull of
  // the class and the hull of the rest (brute force); the statistic is the smallest.
  const std::vector<std::vector<double>> centers = {{0, 0}, {4, 0}, {1, 5}};
  const Tensor jitter = test::random_tensor({45, 2}, DType::f64, 1601, -1.0, 1.0, false);
  Problem p;
  p.N = 2;
  p.P = 45;
  std::vector<std::int32_t> labels(45);
  for (std::int64_t i = 0; i < 45; ++i) {
    labels[i] = static_cast<std::int32_t>(i % 3);
    for (int n = 0; n < 2; ++n) p.x.push_back(centers[i % 3][n] + jitter.flat<double>(2 * i + n));
  }
  double expected = kInf;
  for (int c = 0; c < 3; ++c) {
    Problem q = p;
    q.y.resize(45);
    for (std::int64_t i = 0; i < 45; ++i) q.y[i] = labels[i] == c ? 1.0 : -1.0;
    expected = std::min(expected, hull_distance_2d(q, 1.0, -1.0) / 2);
  }
  Context ctx;
  const Tensor feats = features_of({p}, DType::f64);
  const metrics::SvmStats st =
      metrics::svm_max_margin(feats, Tensor::from_vector<std::int32_t>({45}, labels), 3, {}, ctx);
  EXPECT_NEAR(st.margin[0], expected, 1e-6 * expected);
  EXPECT_NEAR(st.min_distance[0], expected, 1e-5 * expected);
  EXPECT_EQ(st.separable[0], 1);
  // A fourth class absent from the labels is skipped.
  const metrics::SvmStats st4 =
      metrics::svm_max_margin(feats, Tensor::from_vector<std::int32_t>({45}, labels), 4, {}, ctx);
  EXPECT_EQ(st4.margin, st.margin);
  EXPECT_EQ(st4.iterations, st.iterations);
}

TEST(SvmMaxMargin, ChunksGiveTheSameResult) {
  const std::vector<double> y = random_labels(40, 0.5, 1699);
  std::vector<Problem> probs;
  for (int k = 0; k < 5; ++k) probs.push_back(separable_for(y, 5, 0.05, 1700 + k));
  const Problem& p0 = probs[0];
  Context ctx;
  const Tensor f = features_of(probs, DType::f64);
  metrics::SvmOptions whole, small;
  small.workspace_bytes = 8 * (40 * 40 + 40 * 5 + 6 * 40 + 5) + 8 * (svm::kSummaryColumns + 1) + 100;  // one model
  const metrics::SvmStats a = metrics::svm_max_margin(f, labels_of(p0), 2, whole, ctx);
  const metrics::SvmStats b = metrics::svm_max_margin(f, labels_of(p0), 2, small, ctx);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(a.separable[k], b.separable[k]);
    EXPECT_EQ(a.iterations[k], b.iterations[k]);
    EXPECT_EQ(a.min_distance[k], b.min_distance[k]);
    if (!std::isnan(a.margin[k])) {
      EXPECT_EQ(a.margin[k], b.margin[k]);
    }
  }
  small.workspace_bytes = 1000;
  EXPECT_NE(error_of([&] { metrics::svm_max_margin(f, labels_of(p0), 2, small, ctx); }).find("workspace_bytes"),
            std::string::npos);
}

TEST(SvmMaxMargin, BadArgumentsNameTheTensor) {
  Context ctx;
  const Problem p = random_separable(10, 3, 0.1, 0.5, 1800);
  const Tensor f = features_of({p}, DType::f64);
  std::vector<std::int32_t> l(10, 0);
  l[3] = 2;
  EXPECT_NE(error_of([&] {
              metrics::svm_max_margin(f, Tensor::from_vector<std::int32_t>({10}, l), 2, {}, ctx);
            }).find("labels[3] = 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { metrics::svm_max_margin(f.model(0), labels_of(p), 2, {}, ctx); }).find("'features'"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              metrics::svm_max_margin(f, Tensor::from_vector<std::int32_t>({2}, {0, 1}), 2, {}, ctx);
            }).find("'labels'"),
            std::string::npos);
  // A single class: NaN statistics, not separable.
  const metrics::SvmStats st =
      metrics::svm_max_margin(f, Tensor::from_vector<std::int32_t>({10}, std::vector<std::int32_t>(10, 1)), 2, {}, ctx);
  EXPECT_TRUE(std::isnan(st.margin[0]));
  EXPECT_EQ(st.separable[0], 0);
}

}  // namespace
}  // namespace groove
