// ops::fit_linear_decoders on the CPU (kernels/cpu/decode.cpp, kernels/decode_math.h): LDA against
// an independent reference written the way scikit-learn computes it (per-class shrunk covariances
// averaged with the priors, two right-hand sides, Gaussian elimination); svm and logistic against
// their optimality conditions (the gradient of the primal objective, written out here, vanishes);
// symmetric problems with analytic answers; weights as repetition counts; padding, held-out trials
// and the other models of the batch never change a model's results (bitwise); the info codes and
// the argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/decode_ops.h"
#include "tests/common/test_util.h"
#include "tests/kernels/decode_problems.h"

namespace groove {
namespace {

using test::DecodeProblem;
using test::DecodeResult;
using test::make_decode_problem;
using test::run_decoders;
using test::TrainWeights;

ops::DecoderSpec spec_of(ops::DecoderKind kind, double shrinkage_or_c = -1, double tol = 1e-8) {
  ops::DecoderSpec s;
  s.kind = kind;
  if (kind == ops::DecoderKind::lda && shrinkage_or_c >= 0) s.shrinkage = shrinkage_or_c;
  if (kind != ops::DecoderKind::lda && shrinkage_or_c > 0) s.c = shrinkage_or_c;
  s.tol = tol;
  return s;
}

DecodeResult run_cpu(const DecodeProblem& p, const ops::DecoderSpec& spec, int threads = 0) {
  ContextOptions o;
  o.cpu_threads = threads;
  Context ctx(Device::cpu(), o);
  return run_decoders(p, spec, ctx);
}

// The training data of model k as plain vectors: rows x_t[0..f), weights, labels (train > 0 only).
struct ModelData {
  std::int64_t f = 0;
  std::vector<std::vector<double>> x;
  std::vector<double> s;
  std::vector<int> y;  // 0 / 1
};

ModelData model_data(const DecodeProblem& p, std::int64_t k) {
  ModelData m;
  const std::int64_t sess = p.session.flat<std::int32_t>(k);
  m.f = p.features.flat<std::int32_t>(sess);
  for (std::int64_t t = 0; t < p.T; ++t) {
    const double w = p.train.flat<double>(k * p.T + t);
    if (!(w > 0)) continue;
    const double* row = p.x.data<double>() + (sess * p.T + t) * p.F;
    m.x.emplace_back(row, row + m.f);
    m.s.push_back(w);
    m.y.push_back(p.labels.flat<std::int32_t>(k * p.T + t));
  }
  return m;
}

// Solves A x = b (n x n, row-major, copied) by Gaussian elimination with partial pivoting.
std::vector<double> gauss_solve(std::vector<double> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t piv = c;
    for (std::size_t r = c + 1; r < n; ++r) {
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    }
    for (std::size_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[piv * n + j]);
    std::swap(b[c], b[piv]);
    for (std::size_t r = c + 1; r < n; ++r) {
      const double m = a[r * n + c] / a[c * n + c];
      for (std::size_t j = c; j < n; ++j) a[r * n + j] -= m * a[c * n + j];
      b[r] -= m * b[c];
    }
  }
  std::vector<double> x(n);
  for (std::size_t i = n; i-- > 0;) {
    double acc = b[i];
    for (std::size_t j = i + 1; j < n; ++j) acc -= a[i * n + j] * x[j];
    x[i] = acc / a[i * n + i];
  }
  return x;
}

// scikit-learn's LDA (lsqr) written out: class means, per-class (weighted) empirical covariance,
// each shrunk as shrunk_covariance does, averaged with the priors; coef_c = Sigma^{-1} mu_c,
// intercept_c = -mu_c . coef_c / 2 + log(prior_c); binary: differences. Returns (w, b).
std::vector<double> lda_reference(const ModelData& m, double alpha) {
  const std::size_t f = static_cast<std::size_t>(m.f);
  double n[2] = {0, 0};
  std::vector<double> mu[2] = {std::vector<double>(f, 0.0), std::vector<double>(f, 0.0)};
  for (std::size_t i = 0; i < m.s.size(); ++i) {
    n[m.y[i]] += m.s[i];
    for (std::size_t j = 0; j < f; ++j) mu[m.y[i]][j] += m.s[i] * m.x[i][j];
  }
  for (int c = 0; c < 2; ++c) {
    for (double& v : mu[c]) v /= n[c];
  }
  std::vector<double> sigma(f * f, 0.0);
  for (int c = 0; c < 2; ++c) {
    std::vector<double> cov(f * f, 0.0);
    for (std::size_t i = 0; i < m.s.size(); ++i) {
      if (m.y[i] != c) continue;
      for (std::size_t a = 0; a < f; ++a) {
        for (std::size_t b = 0; b < f; ++b) {
          cov[a * f + b] += m.s[i] * (m.x[i][a] - mu[c][a]) * (m.x[i][b] - mu[c][b]) / n[c];
        }
      }
    }
    double tr = 0;
    for (std::size_t a = 0; a < f; ++a) tr += cov[a * f + a];
    const double prior = n[c] / (n[0] + n[1]);
    for (std::size_t a = 0; a < f; ++a) {
      for (std::size_t b = 0; b < f; ++b) {
        const double shrunk = (1 - alpha) * cov[a * f + b] + (a == b ? alpha * tr / static_cast<double>(f) : 0.0);
        sigma[a * f + b] += prior * shrunk;
      }
    }
  }
  std::vector<double> v[2] = {gauss_solve(sigma, mu[0]), gauss_solve(sigma, mu[1])};
  std::vector<double> out(f + 1);
  double icpt[2];
  for (int c = 0; c < 2; ++c) {
    double d = 0;
    for (std::size_t j = 0; j < f; ++j) d += mu[c][j] * v[c][j];
    icpt[c] = -0.5 * d + std::log(n[c] / (n[0] + n[1]));
  }
  for (std::size_t j = 0; j < f; ++j) out[j] = v[1][j] - v[0][j];
  out[f] = icpt[1] - icpt[0];
  return out;
}

// theta = (w_0 .. w_{f-1}, b) of model k from the op's weights row.
std::vector<double> theta_of(const DecodeResult& r, const DecodeProblem& p, std::int64_t k, std::int64_t f) {
  std::vector<double> th(static_cast<std::size_t>(f + 1));
  for (std::int64_t j = 0; j < f; ++j) th[j] = r.weights.flat<double>(k * (p.F + 1) + j);
  th[f] = r.weights.flat<double>(k * (p.F + 1) + p.F);
  return th;
}

double z_of(const std::vector<double>& th, const std::vector<double>& x) {
  double z = th.back();
  for (std::size_t j = 0; j < x.size(); ++j) z += th[j] * x[j];
  return z;
}

// The gradient of the primal objective of svm (bias penalized, squared hinge) or logistic (bias
// free), and the scale of its terms: 1 + c sum_t s_t |x~_tj|.
void primal_gradient(ops::DecoderKind kind, const ModelData& m, const std::vector<double>& th, double c,
                     std::vector<double>& g, std::vector<double>& scale) {
  const std::size_t f = static_cast<std::size_t>(m.f);
  g.assign(f + 1, 0.0);
  scale.assign(f + 1, 1.0);
  for (std::size_t j = 0; j < f; ++j) g[j] = th[j];
  if (kind == ops::DecoderKind::svm) g[f] = th[f];
  for (std::size_t i = 0; i < m.s.size(); ++i) {
    const double y = m.y[i] == 1 ? 1.0 : -1.0;
    const double z = z_of(th, m.x[i]);
    double dl;  // d loss / dz
    if (kind == ops::DecoderKind::svm) {
      dl = y * z < 1 ? -2.0 * (1.0 - y * z) * y : 0.0;
    } else {
      dl = -y / (1.0 + std::exp(y * z));
    }
    for (std::size_t j = 0; j < f; ++j) {
      g[j] += c * m.s[i] * dl * m.x[i][j];
      scale[j] += c * m.s[i] * std::fabs(m.x[i][j]);
    }
    g[f] += c * m.s[i] * dl;
    scale[f] += c * m.s[i];
  }
}

// Every model's scores are x_t . w + b for all trials of its session, and padding weights are 0.
void expect_scores_consistent(const DecodeResult& r, const DecodeProblem& p) {
  for (std::int64_t k = 0; k < p.K; ++k) {
    const std::int64_t sess = p.session.flat<std::int32_t>(k), f = p.features.flat<std::int32_t>(sess);
    const std::vector<double> th = theta_of(r, p, k, f);
    for (std::int64_t j = f; j < p.F; ++j) EXPECT_EQ(r.weights.flat<double>(k * (p.F + 1) + j), 0.0);
    for (std::int64_t t = 0; t < p.T; ++t) {
      const double* row = p.x.data<double>() + (sess * p.T + t) * p.F;
      const double z = z_of(th, std::vector<double>(row, row + f));
      ASSERT_NEAR(r.scores.flat<double>(k * p.T + t), z, 1e-12 * (1 + std::fabs(z))) << "model " << k << " trial " << t;
    }
  }
}

TEST(Decode, LdaMatchesScikitLearnFormulas) {
  for (TrainWeights tw : {TrainWeights::binary, TrainWeights::fractional}) {
    const DecodeProblem p = make_decode_problem(3, 60, 6, 3 * 5 * 2, 11, tw);
    for (double alpha : {0.0, 0.3, 1.0}) {
      const DecodeResult r = run_cpu(p, spec_of(ops::DecoderKind::lda, alpha));
      double worst = 0;
      for (std::int64_t k = 0; k < p.K; ++k) {
        ASSERT_EQ(r.info.flat<std::int32_t>(k), 0) << "model " << k;
        const ModelData m = model_data(p, k);
        const std::vector<double> ref = lda_reference(m, alpha), th = theta_of(r, p, k, m.f);
        double norm = 0;
        for (double v : ref) norm = std::max(norm, std::fabs(v));
        for (std::size_t j = 0; j < ref.size(); ++j) {
          worst = std::max(worst, std::fabs(th[j] - ref[j]) / norm);
          ASSERT_NEAR(th[j], ref[j], 1e-10 * norm) << "model " << k << " entry " << j << " alpha " << alpha;
        }
      }
      std::printf("lda alpha %.1f weights %d: max relative error vs reference %.3g\n", alpha, static_cast<int>(tw),
                  worst);
      expect_scores_consistent(r, p);
    }
  }
}

TEST(Decode, SvmAndLogisticSolutionsAreOptimal) {
  for (ops::DecoderKind kind : {ops::DecoderKind::svm, ops::DecoderKind::logistic}) {
    for (TrainWeights tw : {TrainWeights::binary, TrainWeights::integer, TrainWeights::fractional}) {
      const DecodeProblem p = make_decode_problem(3, 50, 5, 3 * 5 * 2, 21 + static_cast<int>(tw), tw);
      for (double c : {0.01, 1.0, 100.0}) {
        const DecodeResult r = run_cpu(p, spec_of(kind, c, 1e-11));
        double worst = 0;
        for (std::int64_t k = 0; k < p.K; ++k) {
          ASSERT_EQ(r.info.flat<std::int32_t>(k), 0) << ops::kDecoderNames[int(kind)] << " model " << k << " c " << c;
          const ModelData m = model_data(p, k);
          const std::vector<double> th = theta_of(r, p, k, m.f);
          std::vector<double> g, scale;
          primal_gradient(kind, m, th, c, g, scale);
          for (std::size_t j = 0; j < g.size(); ++j) {
            worst = std::max(worst, std::fabs(g[j]) / scale[j]);
            ASSERT_LE(std::fabs(g[j]), 1e-10 * scale[j])
                << ops::kDecoderNames[int(kind)] << " model " << k << " c " << c << " gradient entry " << j;
          }
        }
        std::printf("%s c %g weights %d: max |gradient| / scale %.3g\n", ops::kDecoderNames[int(kind)], c,
                    static_cast<int>(tw), worst);
        expect_scores_consistent(r, p);
      }
    }
  }
}

// Four trials on a line, symmetric under x -> -x with the classes swapped: class 1 at a +- d, class
// 0 at -a -+ d (plus a padding feature). Every decoder has b = 0; LDA w = 2a / d^2 for any alpha
// (F = 1); the svm's w solves a piecewise-linear equation in closed form; logistic's w is the
// root of its 1-D gradient, found here by bisection.
TEST(Decode, SymmetricProblemHasAnalyticAnswers) {
  const double a = 0.75, d = 0.5;
  DecodeProblem p;
  p.S = 1;
  p.T = 4;
  p.F = 2;
  p.K = 1;
  p.x = Tensor::from_vector<double>({1, 4, 2}, {a + d, 99.0, a - d, -5.0, -a + d, 3.0, -a - d, 7.0});
  p.features = Tensor::from_vector<std::int32_t>({1}, {1});
  p.session = Tensor::from_vector<std::int32_t>({1}, {0});
  p.train = Tensor::from_vector<double>({1, 4}, {1, 1, 1, 1});
  p.labels = Tensor::from_vector<std::int32_t>({1, 4}, {1, 1, 0, 0});
  Context ctx;
  for (double alpha : {0.0, 0.5, 1.0}) {
    const DecodeResult r = run_decoders(p, spec_of(ops::DecoderKind::lda, alpha), ctx);
    EXPECT_EQ(r.info.flat<std::int32_t>(0), 0);
    EXPECT_NEAR(r.weights.flat<double>(0), 2 * a / (d * d), 1e-13);
    EXPECT_EQ(r.weights.flat<double>(1), 0.0);
    EXPECT_NEAR(r.weights.flat<double>(2), 0.0, 1e-13);
  }
  // svm: c = 0.5, both points of a class inside the margin: w = 6c / (1 + 6.5c) = 12/17 (with
  // a = 0.75, d = 0.5); c = 10, only the inner point: w = c / (1 + c/4) = 20/7.
  for (const auto& [c, w] : {std::pair{0.5, 12.0 / 17.0}, std::pair{10.0, 20.0 / 7.0}}) {
    const DecodeResult r = run_decoders(p, spec_of(ops::DecoderKind::svm, c, 1e-12), ctx);
    EXPECT_EQ(r.info.flat<std::int32_t>(0), 0);
    EXPECT_NEAR(r.weights.flat<double>(0), w, 1e-13) << "c " << c;
    EXPECT_NEAR(r.weights.flat<double>(2), 0.0, 1e-13) << "c " << c;
  }
  for (double c : {0.1, 1.0, 30.0}) {
    // gradient in w at b = 0: w - 2c [(a+d) sigmoid(-(a+d) w) + (a-d) sigmoid(-(a-d) w)], increasing in w
    auto grad = [&](double w) {
      return w - 2 * c * ((a + d) / (1 + std::exp((a + d) * w)) + (a - d) / (1 + std::exp((a - d) * w)));
    };
    double lo = 0, hi = 100;
    for (int i = 0; i < 200; ++i) (grad(0.5 * (lo + hi)) < 0 ? lo : hi) = 0.5 * (lo + hi);
    const DecodeResult r = run_decoders(p, spec_of(ops::DecoderKind::logistic, c, 1e-12), ctx);
    EXPECT_EQ(r.info.flat<std::int32_t>(0), 0);
    EXPECT_NEAR(r.weights.flat<double>(0), 0.5 * (lo + hi), 1e-12 * hi) << "c " << c;
    EXPECT_NEAR(r.weights.flat<double>(2), 0.0, 1e-12) << "c " << c;
  }
}

// Integer weights equal repeated trials: session 1 holds the training trials of model 0 (session 0)
// repeated train[t] times with weight 1.
TEST(Decode, WeightsActAsRepetitionCounts) {
  const DecodeProblem base = make_decode_problem(1, 40, 4, 1, 31, TrainWeights::integer);
  std::int64_t total = 0;
  for (std::int64_t t = 0; t < base.T; ++t) total += static_cast<std::int64_t>(base.train.flat<double>(t));
  DecodeProblem p;
  p.S = 2;
  p.T = total;
  p.F = base.F;
  p.K = 2;
  p.x = Tensor::host_zeros({2, total, p.F}, DType::f64);
  p.features = Tensor::from_vector<std::int32_t>(
      {2}, {base.features.flat<std::int32_t>(0), base.features.flat<std::int32_t>(0)});
  p.session = Tensor::from_vector<std::int32_t>({2}, {0, 1});
  p.train = Tensor::host_zeros({2, total}, DType::f64);
  p.labels = Tensor::host_zeros({2, total}, DType::i32);
  std::int64_t r = 0;
  for (std::int64_t t = 0; t < base.T; ++t) {
    const double w = base.train.flat<double>(t);
    for (std::int64_t j = 0; j < p.F; ++j) p.x.flat<double>(t * p.F + j) = base.x.flat<double>(t * p.F + j);
    p.train.flat<double>(t) = w;
    p.labels.flat<std::int32_t>(t) = base.labels.flat<std::int32_t>(t);
    for (int rep = 0; rep < static_cast<int>(w); ++rep, ++r) {
      for (std::int64_t j = 0; j < p.F; ++j) {
        p.x.flat<double>((total + r) * p.F + j) = base.x.flat<double>(t * p.F + j);
      }
      p.train.flat<double>(total + r) = 1.0;
      p.labels.flat<std::int32_t>(total + r) = base.labels.flat<std::int32_t>(t);
    }
  }
  Context ctx;
  for (ops::DecoderKind kind : {ops::DecoderKind::lda, ops::DecoderKind::svm, ops::DecoderKind::logistic}) {
    const DecodeResult res = run_decoders(p, spec_of(kind, kind == ops::DecoderKind::lda ? 0.2 : 2.0, 1e-12), ctx);
    EXPECT_EQ(res.info.flat<std::int32_t>(0), 0);
    EXPECT_EQ(res.info.flat<std::int32_t>(1), 0);
    const Tensor w0 = res.weights.model(0).to_host(), w1 = res.weights.model(1).to_host();
    EXPECT_TRUE(test::all_close(w0, w1, 1e-12, 1e-10)) << ops::kDecoderNames[int(kind)];
  }
}

const ops::DecoderSpec kSpecs[] = {spec_of(ops::DecoderKind::lda, 0.0), spec_of(ops::DecoderKind::lda, 0.4),
                                   spec_of(ops::DecoderKind::svm, 0.7), spec_of(ops::DecoderKind::logistic, 3.0)};

// Padding features, labels of held-out trials (train 0) and responses of held-out trials never
// change the fit: weights and info bitwise equal; scores too, except at the changed trials.
TEST(Decode, PaddingAndHeldOutTrialsAreIgnored) {
  const DecodeProblem p = make_decode_problem(3, 45, 7, 3 * 5, 41, TrainWeights::fractional);
  for (const ops::DecoderSpec& spec : kSpecs) {
    const DecodeResult r0 = run_cpu(p, spec);
    for (std::int64_t k = 0; k < p.K; ++k) ASSERT_EQ(r0.info.flat<std::int32_t>(k), 0);
    DecodeProblem q = p;
    q.x = Tensor::host(p.x.shape(), DType::f64);
    q.labels = Tensor::host(p.labels.shape(), DType::i32);
    for (std::int64_t e = 0; e < p.x.numel(); ++e) q.x.flat<double>(e) = p.x.flat<double>(e);
    for (std::int64_t e = 0; e < p.labels.numel(); ++e) q.labels.flat<std::int32_t>(e) = p.labels.flat<std::int32_t>(e);
    // padding
    for (std::int64_t s = 0; s < p.S; ++s) {
      for (std::int64_t t = 0; t < p.T; ++t) {
        for (std::int64_t j = p.features.flat<std::int32_t>(s); j < p.F; ++j) {
          q.x.flat<double>((s * p.T + t) * p.F + j) = -0.5 * t - j;
        }
      }
    }
    // held-out labels
    for (std::int64_t e = 0; e < p.labels.numel(); ++e) {
      if (p.train.flat<double>(e) == 0) q.labels.flat<std::int32_t>(e) = static_cast<std::int32_t>(e % 2);
    }
    const DecodeResult r1 = run_cpu(q, spec);
    EXPECT_TRUE(test::bitwise_equal(r1.weights, r0.weights)) << ops::kDecoderNames[int(spec.kind)];
    EXPECT_TRUE(test::bitwise_equal(r1.scores, r0.scores)) << ops::kDecoderNames[int(spec.kind)];
    EXPECT_TRUE(test::bitwise_equal(r1.info, r0.info));
    // the responses of trial 9 of session 0: held out by the models of fold 4 (model 12, session 0)
    const std::int64_t t9 = 9, k_held = 12;
    ASSERT_EQ(p.session.flat<std::int32_t>(k_held), 0);
    ASSERT_EQ(p.train.flat<double>(k_held * p.T + t9), 0.0);
    for (std::int64_t j = 0; j < p.F; ++j) q.x.flat<double>(t9 * p.F + j) += 3.0 + j;
    const DecodeResult r2 = run_cpu(q, spec);
    EXPECT_TRUE(test::bitwise_equal(r2.weights.model(k_held), r0.weights.model(k_held)));
    for (std::int64_t t = 0; t < p.T; ++t) {
      const double a = r2.scores.flat<double>(k_held * p.T + t), b = r0.scores.flat<double>(k_held * p.T + t);
      if (t == t9) {
        EXPECT_NE(a, b);
      } else {
        EXPECT_EQ(a, b) << "trial " << t;
      }
    }
    // a model that trains on trial 9 does change
    EXPECT_FALSE(test::bitwise_equal(r2.weights.model(0), r0.weights.model(0)));
  }
}

// A model alone gives the same bits as the model inside a batch, with any number of threads.
TEST(Decode, ModelsAreIndependentOfTheBatch) {
  const DecodeProblem p = make_decode_problem(4, 35, 5, 4 * 5 * 2, 51, TrainWeights::fractional);
  for (const ops::DecoderSpec& spec : kSpecs) {
    const DecodeResult all = run_cpu(p, spec, 2);
    const DecodeResult one_thread = run_cpu(p, spec, 1);
    EXPECT_TRUE(test::bitwise_equal(one_thread.weights, all.weights));
    EXPECT_TRUE(test::bitwise_equal(one_thread.scores, all.scores));
    for (std::int64_t k : {std::int64_t(0), std::int64_t(7), p.K - 1}) {
      DecodeProblem q = p;
      q.K = 1;
      q.session = Tensor::from_vector<std::int32_t>({1}, {p.session.flat<std::int32_t>(k)});
      q.train = p.train.model(k).reshape({1, p.T});
      q.labels = p.labels.model(k).reshape({1, p.T});
      const DecodeResult alone = run_cpu(q, spec);
      EXPECT_TRUE(test::bitwise_equal(alone.weights.model(0), all.weights.model(k))) << "model " << k;
      EXPECT_TRUE(test::bitwise_equal(alone.scores.model(0), all.scores.model(k))) << "model " << k;
      EXPECT_EQ(alone.info.flat<std::int32_t>(0), all.info.flat<std::int32_t>(k));
    }
  }
}

// The CUDA kernel's scratch layout (decode::Strided: chunks of models, element e of chunk slot i at
// ws[e * chunk + i]) run on the host, chunk by chunk in reverse order: the same bits as the CPU
// op, whose scratch is contiguous per thread.
TEST(Decode, InterleavedScratchOfTheCudaKernelGivesTheSameBits) {
  const DecodeProblem p = make_decode_problem(3, 37, 6, 3 * 5 * 2, 55, TrainWeights::fractional);
  for (const ops::DecoderSpec& spec : kSpecs) {
    const DecodeResult ref = run_cpu(p, spec);
    std::vector<double> w(static_cast<std::size_t>(p.K * (p.F + 1))), sc(static_cast<std::size_t>(p.K * p.T));
    std::vector<std::int32_t> info(static_cast<std::size_t>(p.K));
    decode::Batch b;
    b.weights = w.data();
    b.scores = sc.data();
    b.info = info.data();
    b.x = p.x.data<double>();
    b.features = p.features.data<std::int32_t>();
    b.session = p.session.data<std::int32_t>();
    b.train = p.train.data<double>();
    b.labels = p.labels.data<std::int32_t>();
    b.models = p.K;
    b.sessions = p.S;
    b.trials = p.T;
    b.features_max = p.F;
    decode::Params dp;
    dp.kind = static_cast<int>(spec.kind);
    dp.shrinkage = spec.shrinkage;
    dp.c = spec.c;
    dp.max_iter = spec.max_iter;
    dp.tol = spec.tol;
    const std::int64_t chunk = 4, per = decode::scratch_doubles(p.F, p.T);
    std::vector<double> ws(static_cast<std::size_t>(chunk * per), std::numeric_limits<double>::quiet_NaN());
    for (std::int64_t k0 = (p.K - 1) / chunk * chunk; k0 >= 0; k0 -= chunk) {
      for (std::int64_t i = 0; i < std::min(chunk, p.K - k0); ++i) {
        decode::fit_model(b, dp, k0 + i, decode::Strided{ws.data() + i, chunk});
      }
    }
    EXPECT_TRUE(test::bitwise_equal(Tensor::from_vector<double>({p.K, p.F + 1}, w), ref.weights));
    EXPECT_TRUE(test::bitwise_equal(Tensor::from_vector<double>({p.K, p.T}, sc), ref.scores));
    EXPECT_TRUE(test::bitwise_equal(Tensor::from_vector<std::int32_t>({p.K}, info), ref.info));
  }
}

bool all_nan(const Tensor& t) {
  for (std::int64_t e = 0; e < t.numel(); ++e) {
    if (!std::isnan(t.value(e))) return false;
  }
  return true;
}

TEST(Decode, InfoCodes) {
  DecodeProblem p = make_decode_problem(2, 30, 4, 6, 61);
  // model 1: every training label 1 (info 3); model 2: no training weight at all (info 3);
  // model 3: a training label 2 (info 4); model 4: a negative weight (info 4); model 5: a NaN weight
  for (std::int64_t t = 0; t < p.T; ++t) {
    if (p.train.flat<double>(1 * p.T + t) > 0) p.labels.flat<std::int32_t>(1 * p.T + t) = 1;
    p.train.flat<double>(2 * p.T + t) = 0.0;
  }
  p.labels.flat<std::int32_t>(3 * p.T + 5) = 2;
  p.train.flat<double>(4 * p.T + 6) = -1.0;
  p.train.flat<double>(5 * p.T + 6) = std::numeric_limits<double>::quiet_NaN();
  const std::int32_t expected[] = {0, 3, 3, 4, 4, 4};
  for (const ops::DecoderSpec& spec : kSpecs) {
    const DecodeResult r = run_cpu(p, spec);
    for (std::int64_t k = 0; k < p.K; ++k) {
      EXPECT_EQ(r.info.flat<std::int32_t>(k), expected[k]) << ops::kDecoderNames[int(spec.kind)] << " model " << k;
      EXPECT_EQ(all_nan(r.weights.model(k)), k > 0) << "model " << k;
      EXPECT_EQ(all_nan(r.scores.model(k)), k > 0) << "model " << k;
    }
  }
  // LDA without shrinkage: a constant feature, or a feature equal to another, is singular (info 2);
  // shrinkage makes both regular.
  DecodeProblem q = make_decode_problem(2, 30, 4, 2, 62);
  for (std::int64_t t = 0; t < q.T; ++t) {
    double* s0 = q.x.data<double>() + t * q.F;
    s0[1] = 0.25;
    double* s1 = q.x.data<double>() + (q.T + t) * q.F;
    s1[2] = s1[0];
  }
  const DecodeResult r = run_cpu(q, spec_of(ops::DecoderKind::lda, 0.0));
  for (std::int64_t k = 0; k < 2; ++k) {
    EXPECT_EQ(r.info.flat<std::int32_t>(k), 2) << "model " << k;
    EXPECT_TRUE(all_nan(r.weights.model(k)) && all_nan(r.scores.model(k)));
  }
  const DecodeResult rs = run_cpu(q, spec_of(ops::DecoderKind::lda, 0.1));
  for (std::int64_t k = 0; k < 2; ++k) EXPECT_EQ(rs.info.flat<std::int32_t>(k), 0) << "model " << k;
  // max_iter = 1: one Newton step, not converged (info 1), results finite and written
  for (ops::DecoderKind kind : {ops::DecoderKind::svm, ops::DecoderKind::logistic}) {
    ops::DecoderSpec s = spec_of(kind, 50.0);
    s.max_iter = 1;
    const DecodeResult r1 = run_cpu(q, s);
    for (std::int64_t k = 0; k < 2; ++k) {
      EXPECT_EQ(r1.info.flat<std::int32_t>(k), 1) << ops::kDecoderNames[int(kind)];
      for (std::int64_t e = 0; e < q.T; ++e) EXPECT_TRUE(std::isfinite(r1.scores.flat<double>(k * q.T + e)));
    }
  }
}

TEST(Decode, ArgumentErrorsNameTheTensor) {
  const DecodeProblem p = make_decode_problem(2, 10, 3, 4, 71);
  Context ctx;
  auto call = [&](const DecodeProblem& q, const ops::DecoderSpec& spec, Shape wshape = {}, Shape sshape = {}) {
    Tensor w = Tensor::empty(wshape.ndim() ? wshape : Shape{q.K, q.F + 1}, DType::f64, ctx);
    Tensor sc = Tensor::empty(sshape.ndim() ? sshape : Shape{q.K, q.T}, DType::f64, ctx);
    Tensor info = Tensor::empty({q.K}, DType::i32, ctx);
    ops::fit_linear_decoders(w, sc, info, q.x, q.features, q.session, q.train, q.labels, spec, ctx);
  };
  const ops::DecoderSpec lda;
  auto with = [&](auto mutate) {
    DecodeProblem q = p;
    mutate(q);
    return q;
  };
  EXPECT_TRUE(test::throws_mentioning(
      [&] { call(with([](DecodeProblem& q) {
                   q.x = Tensor::host({2, 10, 3}, DType::f32);
                 }),
                 lda); }, {"'x'", "f64"}));
  EXPECT_TRUE(test::throws_mentioning(
      [&] { call(with([](DecodeProblem& q) { q.features = Tensor::host({3}, DType::i32); }), lda); }, {"'features'"}));
  EXPECT_TRUE(test::throws_mentioning(
      [&] { call(with([](DecodeProblem& q) {
                   q.train = Tensor::host({4, 9}, DType::f64);
                 }),
                 lda); }, {"'train'"}));
  EXPECT_TRUE(test::throws_mentioning(
      [&] { call(with([](DecodeProblem& q) {
                   q.labels = Tensor::host({4, 10}, DType::f64);
                 }),
                 lda); }, {"'labels'"}));
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, lda, Shape{4, 3}); }, {"'weights'", "[4, 4]"}));
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, lda, {}, Shape{4, 11}); }, {"'scores'"}));
  EXPECT_TRUE(test::throws_mentioning(
      [&] {
        call(with([](DecodeProblem& q) { q.features = Tensor::from_vector<std::int32_t>({2}, {3, 4}); }), lda);
      },
      {"'features'", "4", "index 1"}));
  EXPECT_TRUE(test::throws_mentioning(
      [&] {
        call(with([](DecodeProblem& q) { q.session = Tensor::from_vector<std::int32_t>({4}, {0, 1, 2, 0}); }), lda);
      },
      {"'session'", "index 2"}));
  ops::DecoderSpec bad = lda;
  bad.shrinkage = 1.5;
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, bad); }, {"shrinkage"}));
  bad = spec_of(ops::DecoderKind::svm);
  bad.c = 0;
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, bad); }, {"spec.c", "svm"}));
  bad = spec_of(ops::DecoderKind::logistic);
  bad.max_iter = 0;
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, bad); }, {"max_iter"}));
  bad = spec_of(ops::DecoderKind::logistic);
  bad.tol = -1;
  EXPECT_TRUE(test::throws_mentioning([&] { call(p, bad); }, {"tol"}));
  // outputs aliasing inputs
  Tensor w = Tensor::empty({p.K, p.F + 1}, DType::f64, ctx), info = Tensor::empty({p.K}, DType::i32, ctx);
  Tensor train = p.train;
  EXPECT_TRUE(test::throws_mentioning(
      [&] { ops::fit_linear_decoders(w, train, info, p.x, p.features, p.session, p.train, p.labels, lda, ctx); },
      {"'scores'", "'train'"}));
}

}  // namespace
}  // namespace groove
