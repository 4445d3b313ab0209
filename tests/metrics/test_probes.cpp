// Representation probes (metrics/probes.h) and their linear algebra (kernels/linalg_ops.h) on the
// CPU, against direct dense formulas in double written here: inverses by Gauss-Jordan, eigen-
// decompositions by Jacobi, explicit kernel matrices, Spearman with ties by counting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/linalg_ops.h"
#include "kernels/ops.h"
#include "metrics/probes.h"
#include "tests/common/test_util.h"
#include "tests/metrics/probe_data.h"

namespace groove {
namespace {

using metrics::ProbeForm;
using metrics::ProbeOptions;
using metrics::ProbeSet;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Dense references (row-major std::vector<double>)

using Mat = std::vector<double>;

Mat matmul(const Mat& a, const Mat& b, std::int64_t m, std::int64_t k, std::int64_t n) {
  Mat c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t p = 0; p < k; ++p) {
      for (std::int64_t j = 0; j < n; ++j) c[i * n + j] += a[i * k + p] * b[p * n + j];
    }
  }
  return c;
}

Mat transpose(const Mat& a, std::int64_t m, std::int64_t n) {
  Mat t(a.size());
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) t[j * m + i] = a[i * n + j];
  }
  return t;
}

// Inverse by Gauss-Jordan elimination with partial pivoting.
Mat inverse(Mat a, std::int64_t n) {
  Mat inv(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  for (std::int64_t c = 0; c < n; ++c) {
    std::int64_t piv = c;
    for (std::int64_t r = c + 1; r < n; ++r) {
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    }
    for (std::int64_t j = 0; j < n; ++j) {
      std::swap(a[c * n + j], a[piv * n + j]);
      std::swap(inv[c * n + j], inv[piv * n + j]);
    }
    const double d = a[c * n + c];
    for (std::int64_t j = 0; j < n; ++j) {
      a[c * n + j] /= d;
      inv[c * n + j] /= d;
    }
    for (std::int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      for (std::int64_t j = 0; j < n; ++j) {
        a[r * n + j] -= f * a[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

// Cyclic Jacobi eigendecomposition of a symmetric matrix: eigenvalues, eigenvectors as columns.
void jacobi_eigen(Mat a, std::int64_t n, std::vector<double>& values, Mat& vectors) {
  vectors.assign(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) vectors[i * n + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off < 1e-30) break;
    for (std::int64_t p = 0; p < n; ++p) {
      for (std::int64_t q = p + 1; q < n; ++q) {
        if (a[p * n + q] == 0.0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::int64_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::int64_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (std::int64_t k = 0; k < n; ++k) {
          const double vkp = vectors[k * n + p], vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  values.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[i] = a[i * n + i];
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double rel_err(double a, double b) {
  return std::fabs(a - b) / std::max(1.0, std::fabs(b));
}

void expect_vec_near(const std::vector<double>& actual, const std::vector<double>& expected, double tol,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << what << " [" << i << "] = " << actual[i] << ", expected NaN";
    } else {
      EXPECT_LE(rel_err(actual[i], expected[i]), tol)
          << what << " [" << i << "] = " << actual[i] << ", expected " << expected[i];
    }
  }
}

Mat model_of(const Tensor& t, std::int64_t k) {
  const Tensor m = t.model(k);
  Mat out(static_cast<std::size_t>(m.numel()));
  for (std::int64_t i = 0; i < m.numel(); ++i) out[i] = m.value(i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Data

// Applies x -> scale * x + shift[n] to every feature tensor of a set (f64 copies).
ProbeSet transformed(const ProbeSet& s, double scale, double shift_seed) {
  ProbeSet t = s;
  auto apply = [&](const Tensor& x) {
    Tensor y = Tensor::host(x.shape(), DType::f64);
    const std::int64_t N = x.dim(2);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      y.flat<double>(i) = scale * x.value(i) + shift_seed * std::sin(static_cast<double>(i % N) + 0.5);
    }
    return y;
  };
  t.train_features = apply(s.train_features);
  if (s.test_features.defined()) t.test_features = apply(s.test_features);
  return t;
}

std::vector<std::int32_t> ints(const Tensor& t) {
  return t.to_vector<std::int32_t>();
}

// ---------------------------------------------------------------------------------------------
// Linear algebra ops

class Linalg : public ::testing::Test {
 protected:
  Context ctx{Device::cpu()};
};

// K SPD matrices B^T B / n + 0.5 I of size n.
Tensor spd(std::int64_t K, std::int64_t n, std::uint64_t seed) {
  const Tensor b = test::random_tensor({K, n, n}, DType::f64, seed);
  Tensor a = Tensor::host({K, n, n}, DType::f64);
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double s = i == j ? 0.5 : 0.0;
        for (std::int64_t p = 0; p < n; ++p)
          s += b.flat<double>((k * n + p) * n + i) * b.flat<double>((k * n + p) * n + j) / n;
        a.flat<double>((k * n + i) * n + j) = s;
      }
    }
  }
  return a;
}

TEST_F(Linalg, CholeskySolveMatchesGaussJordan) {
  for (std::int64_t n : {1, 5, 16, 17, 40}) {
    for (std::int64_t m : {1, 3}) {
      const std::int64_t K = 3;
      const Tensor a = spd(K, n, 10 + n);
      const Tensor b = test::random_tensor({K, n, m}, DType::f64, 20 + n);
      const Tensor shared_b = test::random_tensor({n, m}, DType::f64, 30 + n);
      Tensor x = Tensor::host({K, n, m}, DType::f64), xs = Tensor::host({K, n, m}, DType::f64);
      Tensor info = Tensor::host({K}, DType::i32);
      ops::cholesky_solve(x, info, a, b, ctx);
      EXPECT_EQ(ints(info), std::vector<std::int32_t>(K, 0));
      ops::cholesky_solve(xs, info, a, shared_b, ctx);
      for (std::int64_t k = 0; k < K; ++k) {
        const Mat inv = inverse(model_of(a, k), n);
        expect_vec_near(model_of(x, k), matmul(inv, model_of(b, k), n, n, m), 1e-10,
                        "x n=" + std::to_string(n) + " m=" + std::to_string(m));
        expect_vec_near(model_of(xs, k), matmul(inv, model_of(shared_b.reshape({1, n, m}), 0), n, n, m), 1e-10,
                        "shared b n=" + std::to_string(n));
      }
      // The factor: upper triangular, U^T U = A; in place gives the same.
      Tensor u = Tensor::host({K, n, n}, DType::f64), in_place = a.to(ctx);
      ops::cholesky_factor(u, info, a, ctx);
      ops::cholesky_factor(in_place, info, in_place, ctx);
      EXPECT_TRUE(test::bitwise_equal(in_place, u));
      for (std::int64_t k = 0; k < K; ++k) {
        const Mat uk = model_of(u, k);
        for (std::int64_t i = 0; i < n; ++i) {
          for (std::int64_t j = 0; j < i; ++j) EXPECT_EQ(uk[i * n + j], 0.0);
        }
        expect_vec_near(matmul(transpose(uk, n, n), uk, n, n, n), model_of(a, k), 1e-12, "U^T U");
      }
      // Substitution in place on a batched right-hand side.
      Tensor xin = b.to(ctx);
      ops::cholesky_substitute(xin, u, info, xin, ctx);
      EXPECT_TRUE(test::all_close(xin, x, 1e-13, 1e-11));
    }
  }
}

TEST_F(Linalg, NonPositivePivotsAreReportedPerModel) {
  const std::int64_t n = 20;
  Tensor a = spd(4, n, 5);
  // Model 1: a negative direction at column 2 (rows/columns 2 scaled to a negative diagonal).
  a.flat<double>((1 * n + 2) * n + 2) = -3.0;
  // Model 2: a singular matrix (row and column 17 zero).
  for (std::int64_t i = 0; i < n; ++i) {
    a.flat<double>((2 * n + 17) * n + i) = 0.0;
    a.flat<double>((2 * n + i) * n + 17) = 0.0;
  }
  // Model 3: NaN on the first pivot.
  a.flat<double>((3 * n + 0) * n + 0) = kNaN;
  const Tensor b = test::random_tensor({4, n, 2}, DType::f64, 6);
  Tensor x = Tensor::host({4, n, 2}, DType::f64), info = Tensor::host({4}, DType::i32);
  ops::cholesky_solve(x, info, a, b, ctx);
  const std::vector<std::int32_t> iv = ints(info);
  EXPECT_EQ(iv[0], 0);
  EXPECT_EQ(iv[1], 3);  // column 2, 1-based
  EXPECT_EQ(iv[2], 18);
  EXPECT_EQ(iv[3], 1);
  const Mat inv = inverse(model_of(a, 0), n);
  expect_vec_near(model_of(x, 0), matmul(inv, model_of(b, 0), n, n, 2), 1e-10, "model 0");
  for (std::int64_t k = 1; k < 4; ++k) {
    for (double v : model_of(x, k)) EXPECT_TRUE(std::isnan(v)) << "model " << k;
  }
}

TEST_F(Linalg, RegularizeDiagonalIsRelativeToTheTrace) {
  Tensor a = spd(2, 6, 7);
  for (std::int64_t i = 0; i < 36; ++i) a.flat<double>(36 + i) = 0.0;  // model 1: zero matrix
  const Tensor before = a.to(ctx);
  Tensor alpha = Tensor::host({2}, DType::f64);
  ops::regularize_diagonal(a, alpha, 0.25, 3.0, 7.5, ctx);
  double trace = 0;
  for (std::int64_t i = 0; i < 6; ++i) trace += before.flat<double>(i * 6 + i);
  EXPECT_NEAR(alpha.flat<double>(0), 0.25 * trace / 3.0, 1e-14);
  EXPECT_EQ(alpha.flat<double>(1), 7.5);
  for (std::int64_t i = 0; i < 6; ++i) {
    for (std::int64_t j = 0; j < 6; ++j) {
      const double add = i == j ? alpha.flat<double>(0) : 0.0;
      EXPECT_NEAR(a.flat<double>(i * 6 + j), before.flat<double>(i * 6 + j) + add, 1e-14);
      EXPECT_EQ(a.flat<double>(36 + i * 6 + j), i == j ? 7.5 : 0.0);
    }
  }
}

TEST_F(Linalg, GatherFeaturesConcatenatesAndConverts) {
  const Tensor x1 = test::random_tensor({2, 4, 3}, DType::f32, 1), x2 = test::random_tensor({2, 5, 3}, DType::f32, 2);
  const Tensor index = Tensor::from_vector<std::int32_t>({4}, {8, 0, 4, 3});
  Tensor y = Tensor::host({2, 4, 3}, DType::f64);
  ops::gather_features(y, x1, x2, index, ctx);
  for (std::int64_t k = 0; k < 2; ++k) {
    for (std::int64_t i = 0; i < 4; ++i) {
      const std::int32_t src = index.flat<std::int32_t>(i);
      for (std::int64_t c = 0; c < 3; ++c) {
        const double expected =
            src < 4 ? x1.flat<float>((k * 4 + src) * 3 + c) : x2.flat<float>((k * 5 + (src - 4)) * 3 + c);
        EXPECT_EQ(y.flat<double>((k * 4 + i) * 3 + c), expected);
      }
    }
  }
  const Tensor bad = Tensor::from_vector<std::int32_t>({2}, {1, 9});
  Tensor y2 = Tensor::host({2, 2, 3}, DType::f64);
  try {
    ops::gather_features(y2, x1, x2, bad, ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index[1] = 9"), std::string::npos) << e.what();
  }
}

TEST_F(Linalg, ClassificationScoresByHand) {
  // Binary: 5 rows of one model; logits > 0 predict 1.
  const Tensor logits = Tensor::from_vector<double>({2, 5, 1}, {2.0, -1.0, 0.5, -0.25, 3.0,  //
                                                                -2.0, kNaN, 0.5, 1.0, 0.0});
  const Tensor labels = Tensor::from_vector<std::int32_t>({5}, {1, 0, 0, 0, 1});
  const Tensor groups = Tensor::from_vector<std::int32_t>({5}, {0, 0, 1, 1, 0});
  Tensor acc = Tensor::host({2, 4}, DType::f64), loss = Tensor::host({2}, DType::f64);
  ops::classification_scores(acc, loss, logits, labels, groups, ctx);
  // Model 0: correct = rows 0, 1, 3, 4 (row 2 predicts 1). Groups: 0 -> rows 0, 1, 4; 1 -> rows 2, 3; 2 -> none.
  EXPECT_DOUBLE_EQ(acc.flat<double>(0), 4.0 / 5.0);
  EXPECT_DOUBLE_EQ(acc.flat<double>(1), 1.0);
  EXPECT_DOUBLE_EQ(acc.flat<double>(2), 0.5);
  EXPECT_TRUE(std::isnan(acc.flat<double>(3)));
  // Model 1: a NaN logit in group 0 makes "all" and group 0 NaN; group 1: rows 2 (wrong), 3 (wrong).
  EXPECT_TRUE(std::isnan(acc.flat<double>(4)));
  EXPECT_TRUE(std::isnan(acc.flat<double>(5)));
  EXPECT_DOUBLE_EQ(acc.flat<double>(6), 0.0);
  auto softplus = [](double x) { return std::log1p(std::exp(x)); };
  const double expected_loss =
      (softplus(-2.0) + softplus(-1.0) + softplus(0.5) + softplus(-0.25) + softplus(-3.0)) / 5.0;
  EXPECT_NEAR(loss.flat<double>(0), expected_loss, 1e-15);
  EXPECT_TRUE(std::isnan(loss.flat<double>(1)));

  // Softmax: 3 classes; ties pick the first maximum.
  const Tensor l3 = Tensor::from_vector<double>({1, 3, 3}, {1.0, 2.0, 0.0, 5.0, 5.0, 1.0, 0.0, 0.0, 0.1});
  const Tensor lab3 = Tensor::from_vector<std::int32_t>({3}, {1, 1, 2});
  Tensor acc3 = Tensor::host({1, 1}, DType::f64), loss3 = Tensor::host({1}, DType::f64);
  ops::classification_scores(acc3, loss3, l3, lab3, Tensor(), ctx);
  EXPECT_DOUBLE_EQ(acc3.flat<double>(0), 2.0 / 3.0);
  auto lse = [](double a, double b, double c) { return std::log(std::exp(a) + std::exp(b) + std::exp(c)); };
  const double ce = ((lse(1, 2, 0) - 2) + (lse(5, 5, 1) - 5) + (lse(0, 0, 0.1) - 0.1)) / 3.0;
  EXPECT_NEAR(loss3.flat<double>(0), ce, 1e-15);
}

TEST_F(Linalg, LogisticResidualIsTheLossGradient) {
  for (std::int64_t outputs : {1, 4}) {
    const std::int64_t rows = 7;
    const Tensor logits = test::random_tensor({2, rows, outputs}, DType::f64, 40 + outputs, 0.1, 4.0);
    std::vector<std::int32_t> lab(rows);
    for (std::int64_t r = 0; r < rows; ++r) lab[r] = static_cast<std::int32_t>(r % std::max<std::int64_t>(outputs, 2));
    const Tensor labels = Tensor::from_vector<std::int32_t>({rows}, lab);
    Tensor r = Tensor::host(logits.shape(), DType::f64);
    ops::logistic_residual(r, logits, labels, 0.5, ctx);
    for (std::int64_t row = 0; row < 2 * rows; ++row) {
      for (std::int64_t c = 0; c < outputs; ++c) {
        std::vector<double> f(logits.data<double>() + row * outputs, logits.data<double>() + (row + 1) * outputs);
        const double h = 1e-6;
        f[c] += h;
        const double up = linalg_math::row_log_loss(f.data(), outputs, lab[row % rows]);
        f[c] -= 2 * h;
        const double down = linalg_math::row_log_loss(f.data(), outputs, lab[row % rows]);
        EXPECT_NEAR(r.flat<double>(row * outputs + c), 0.5 * (up - down) / (2 * h), 1e-8);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ridge

struct RidgeRef {
  Mat w;                  // [N, C']
  std::vector<double> b;  // [C']
  double alpha = 0;
};

RidgeRef ridge_reference(const Mat& h, const std::vector<std::int32_t>& labels, int classes, double lambda,
                         std::int64_t P, std::int64_t N) {
  const int C = std::max(classes, 2);
  const std::int64_t out = C == 2 ? 1 : C;
  std::vector<double> mu(static_cast<std::size_t>(N), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t n = 0; n < N; ++n) mu[n] += h[p * N + n] / P;
  }
  Mat hc(h);
  double ss = 0;
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t n = 0; n < N; ++n) {
      hc[p * N + n] -= mu[n];
      ss += hc[p * N + n] * hc[p * N + n];
    }
  }
  Mat t(static_cast<std::size_t>(P * out), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    if (out == 1) {
      t[p] = labels[p] == 1 ? 1 : -1;
    } else {
      t[p * out + labels[p]] = 1;
    }
  }
  std::vector<double> tbar(static_cast<std::size_t>(out), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t c = 0; c < out; ++c) tbar[c] += t[p * out + c] / P;
  }
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t c = 0; c < out; ++c) t[p * out + c] -= tbar[c];
  }
  RidgeRef r;
  r.alpha = ss == 0 ? lambda : lambda * ss / N;
  const Mat hct = transpose(hc, P, N);
  Mat g = matmul(hct, hc, N, P, N);
  for (std::int64_t i = 0; i < N; ++i) g[i * N + i] += r.alpha;
  r.w = matmul(inverse(g, N), matmul(hct, t, N, P, out), N, N, out);
  r.b = tbar;
  for (std::int64_t c = 0; c < out; ++c) {
    for (std::int64_t n = 0; n < N; ++n) r.b[c] -= mu[n] * r.w[n * out + c];
  }
  return r;
}

// Accuracy of logits x W + b against labels (selection: rows with groups == g, or all if g < 0).
double accuracy_ref(const Mat& x, const Mat& w, const std::vector<double>& b, const std::vector<std::int32_t>& labels,
                    const std::vector<std::int32_t>* groups, int g, std::int64_t rows, std::int64_t N,
                    std::int64_t out) {
  double correct = 0, count = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (g >= 0 && (*groups)[r] != g) continue;
    std::vector<double> f(static_cast<std::size_t>(out));
    for (std::int64_t c = 0; c < out; ++c) {
      f[c] = b[c];
      for (std::int64_t n = 0; n < N; ++n) f[c] += x[r * N + n] * w[n * out + c];
    }
    std::int32_t pred = 0;
    if (out == 1) {
      pred = f[0] > 0 ? 1 : 0;
    } else {
      for (std::int64_t c = 1; c < out; ++c) pred = f[c] > f[pred] ? static_cast<std::int32_t>(c) : pred;
    }
    correct += pred == labels[r] ? 1 : 0;
    count += 1;
  }
  return count > 0 ? correct / count : kNaN;
}

class Probes : public ::testing::Test {
 protected:
  Context ctx{Device::cpu()};
};

TEST_F(Probes, RidgeMatchesDenseFormulaPrimalAndDual) {
  struct Case {
    std::int64_t P, N, Q;
    int classes, groups;
  };
  for (const Case& cs : {Case{30, 8, 12, 2, 3}, Case{9, 14, 7, 2, 2}, Case{25, 6, 10, 4, 2}, Case{8, 20, 9, 3, 0},
                         Case{12, 12, 0, 1, 0}}) {
    const std::int64_t K = 3;
    const ProbeSet s = test::make_probe_set(K, cs.P, cs.N, cs.Q, cs.classes, cs.groups, 0.6, 100 + cs.P * cs.N);
    const double lambda = 0.05;
    const std::int64_t out = std::max(cs.classes, 2) == 2 ? 1 : std::max(cs.classes, 2);
    const std::vector<std::int32_t> labels = ints(s.train_labels);
    const std::vector<std::int32_t> tl = cs.Q ? ints(s.test_labels) : std::vector<std::int32_t>();
    const std::vector<std::int32_t> tg = cs.Q ? ints(s.test_groups) : std::vector<std::int32_t>();
    for (ProbeForm form : {ProbeForm::automatic, ProbeForm::primal, ProbeForm::dual}) {
      ProbeOptions o;
      o.form = form;
      o.keep_weights = true;
      o.max_workspace_bytes = 1;  // one model per chunk
      const auto res = metrics::ridge_probe(s, lambda, ctx, o);
      const std::string what = "P=" + std::to_string(cs.P) + " N=" + std::to_string(cs.N) +
                               " C=" + std::to_string(cs.classes) + " form=" + std::to_string(int(form));
      ASSERT_EQ(res.train_accuracy.size(), static_cast<std::size_t>(K)) << what;
      ASSERT_EQ(res.group_accuracy.size(), static_cast<std::size_t>(K * cs.groups)) << what;
      for (std::int64_t k = 0; k < K; ++k) {
        const Mat h = model_of(s.train_features, k);
        const RidgeRef ref = ridge_reference(h, labels, cs.classes, lambda, cs.P, cs.N);
        EXPECT_EQ(res.info[k], 0) << what;
        EXPECT_LE(rel_err(res.alpha[k], ref.alpha), 1e-12) << what;
        expect_vec_near(model_of(res.weights, k), ref.w, 1e-9, what + " weights");
        expect_vec_near(model_of(res.intercept, k), ref.b, 1e-9, what + " intercept");
        EXPECT_DOUBLE_EQ(res.train_accuracy[k], accuracy_ref(h, ref.w, ref.b, labels, nullptr, -1, cs.P, cs.N, out))
            << what;
        if (cs.Q == 0) {
          EXPECT_TRUE(std::isnan(res.test_accuracy[k])) << what;
          continue;
        }
        const Mat ht = model_of(s.test_features, k);
        EXPECT_DOUBLE_EQ(res.test_accuracy[k], accuracy_ref(ht, ref.w, ref.b, tl, nullptr, -1, cs.Q, cs.N, out))
            << what;
        for (int g = 0; g < cs.groups; ++g) {
          EXPECT_DOUBLE_EQ(res.group_accuracy[k * cs.groups + g],
                           accuracy_ref(ht, ref.w, ref.b, tl, &tg, g, cs.Q, cs.N, out))
              << what << " group " << g;
        }
      }
    }
  }
}

TEST_F(Probes, RidgeSeparableReachesAccuracyOneAndIsScaleInvariant) {
  for (auto [P, N] : {std::pair<std::int64_t, std::int64_t>{40, 10}, {10, 30}}) {
    const ProbeSet s = test::make_probe_set(2, P, N, 15, 3, 2, 6.0, 7 + P);
    const auto res = metrics::ridge_probe(s, 1e-3, ctx);
    for (std::int64_t k = 0; k < 2; ++k) {
      EXPECT_EQ(res.train_accuracy[k], 1.0);
      EXPECT_EQ(res.test_accuracy[k], 1.0);
      EXPECT_EQ(res.group_accuracy[k * 2], 1.0);
    }
    // Scaling by 1000 and shifting every unit leaves the predictions (and the relative alpha, up to
    // the scale squared) unchanged.
    ProbeOptions o;
    o.keep_weights = true;
    const ProbeSet noisy = test::make_probe_set(2, P, N, 15, 2, 2, 0.3, 9 + P);
    const auto a = metrics::ridge_probe(noisy, 0.1, ctx, o);
    const auto b = metrics::ridge_probe(transformed(noisy, 1000.0, 3.0), 0.1, ctx, o);
    expect_vec_near(b.train_accuracy, a.train_accuracy, 0, "train accuracy");
    expect_vec_near(b.test_accuracy, a.test_accuracy, 0, "test accuracy");
    for (std::int64_t k = 0; k < 2; ++k) {
      EXPECT_LE(rel_err(b.alpha[k], a.alpha[k] * 1e6), 1e-10);
      Mat wa = model_of(a.weights, k), wb = model_of(b.weights, k);
      for (double& v : wb) v *= 1000.0;
      expect_vec_near(wb, wa, 1e-7, "scaled weights");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Logistic

// Gradient of the logistic objective (standardized coordinates) at raw weights W, intercept b.
double logistic_gradient_norm(const Mat& h, const std::vector<std::int32_t>& labels, const Mat& w_raw,
                              const std::vector<double>& b_raw, double lambda, std::int64_t P, std::int64_t N,
                              std::int64_t out, double* sigma_out) {
  std::vector<double> mu(static_cast<std::size_t>(N), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t n = 0; n < N; ++n) mu[n] += h[p * N + n] / P;
  }
  double ss = 0;
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t n = 0; n < N; ++n) ss += (h[p * N + n] - mu[n]) * (h[p * N + n] - mu[n]);
  }
  const double sigma = ss > 0 ? std::sqrt(ss / (P * N)) : 1.0;
  *sigma_out = sigma;
  // u = sigma W, b = b_raw + mu W; logits = z u + b with z = (x - mu) / sigma.
  Mat u(w_raw);
  for (double& v : u) v *= sigma;
  std::vector<double> b(b_raw);
  for (std::int64_t c = 0; c < out; ++c) {
    for (std::int64_t n = 0; n < N; ++n) b[c] += mu[n] * w_raw[n * out + c];
  }
  Mat gu(u.size(), 0.0);
  std::vector<double> gb(static_cast<std::size_t>(out), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    std::vector<double> z(static_cast<std::size_t>(N)), f(b);
    for (std::int64_t n = 0; n < N; ++n) z[n] = (h[p * N + n] - mu[n]) / sigma;
    for (std::int64_t c = 0; c < out; ++c) {
      for (std::int64_t n = 0; n < N; ++n) f[c] += z[n] * u[n * out + c];
    }
    std::vector<double> r(static_cast<std::size_t>(out));
    if (out == 1) {
      const double y = labels[p] == 1 ? 1.0 : 0.0;
      r[0] = 1.0 / (1.0 + std::exp(-f[0])) - y;
    } else {
      double mx = *std::max_element(f.begin(), f.end()), zs = 0;
      for (double v : f) zs += std::exp(v - mx);
      for (std::int64_t c = 0; c < out; ++c) r[c] = std::exp(f[c] - mx) / zs - (labels[p] == c ? 1.0 : 0.0);
    }
    for (std::int64_t c = 0; c < out; ++c) {
      gb[c] += r[c] / P;
      for (std::int64_t n = 0; n < N; ++n) gu[n * out + c] += z[n] * r[c] / P;
    }
  }
  for (std::size_t i = 0; i < gu.size(); ++i) gu[i] += lambda * u[i];
  return std::sqrt(dot(gu, gu) + dot(gb, gb));
}

TEST_F(Probes, LogisticConvergesToTheGradientTolerance) {
  struct Case {
    std::int64_t P, N, Q;
    int classes, groups;
    double sep;
  };
  for (const Case& cs : {Case{
                             40,
                             6,
                             20,
                             2,
                             2,
                             0.5,
                         },
                         Case{12, 25, 9, 2, 3, 0.5}, Case{36, 8, 12, 3, 2, 0.7}, Case{10, 16, 0, 4, 0, 0.7}}) {
    const std::int64_t K = 3, out = cs.classes == 2 ? 1 : cs.classes;
    const ProbeSet s = test::make_probe_set(K, cs.P, cs.N, cs.Q, cs.classes, cs.groups, cs.sep, 300 + cs.P);
    const double lambda = 0.01, tol = 1e-9;
    ProbeOptions o;
    o.keep_weights = true;
    o.max_workspace_bytes = 1;
    const auto res = metrics::logistic_probe(s, lambda, 20000, tol, ctx, o);
    const std::vector<std::int32_t> labels = ints(s.train_labels);
    const std::string what =
        "P=" + std::to_string(cs.P) + " N=" + std::to_string(cs.N) + " C=" + std::to_string(cs.classes);
    for (std::int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(res.converged[k], 1) << what;
      EXPECT_GT(res.iterations[k], 0) << what;
      EXPECT_LE(res.grad_norm[k], tol) << what;
      double sigma = 0;
      const Mat h = model_of(s.train_features, k), w = model_of(res.weights, k);
      const std::vector<double> b = model_of(res.intercept, k);
      const double gn = logistic_gradient_norm(h, labels, w, b, lambda, cs.P, cs.N, out, &sigma);
      EXPECT_LE(gn, tol * 1.01 + 1e-14) << what << " model " << k;
      EXPECT_LE(rel_err(res.scale[k], sigma), 1e-12) << what;
      EXPECT_DOUBLE_EQ(res.train_accuracy[k], accuracy_ref(h, w, b, labels, nullptr, -1, cs.P, cs.N, out)) << what;
      if (cs.Q == 0) {
        EXPECT_TRUE(std::isnan(res.test_accuracy[k]));
        EXPECT_TRUE(std::isnan(res.test_log_loss[k]));
        continue;
      }
      const Mat ht = model_of(s.test_features, k);
      const std::vector<std::int32_t> tl = ints(s.test_labels), tg = ints(s.test_groups);
      EXPECT_DOUBLE_EQ(res.test_accuracy[k], accuracy_ref(ht, w, b, tl, nullptr, -1, cs.Q, cs.N, out)) << what;
      for (int g = 0; g < cs.groups; ++g) {
        EXPECT_DOUBLE_EQ(res.group_accuracy[k * cs.groups + g], accuracy_ref(ht, w, b, tl, &tg, g, cs.Q, cs.N, out));
      }
      double loss = 0;
      for (std::int64_t q = 0; q < cs.Q; ++q) {
        std::vector<double> f(b);
        for (std::int64_t c = 0; c < out; ++c) {
          for (std::int64_t n = 0; n < cs.N; ++n) f[c] += ht[q * cs.N + n] * w[n * out + c];
        }
        if (out == 1) {
          const double sgn = tl[q] == 1 ? 1.0 : -1.0;
          loss += std::log1p(std::exp(-sgn * f[0]));
        } else {
          double zs = 0;
          for (double v : f) zs += std::exp(v);
          loss += std::log(zs) - f[tl[q]];
        }
      }
      EXPECT_LE(rel_err(res.test_log_loss[k], loss / cs.Q), 1e-10) << what;
    }
  }
}

TEST_F(Probes, LogisticSeparableAccuracyOneInvarianceAndIterationCap) {
  const ProbeSet s = test::make_probe_set(2, 30, 12, 16, 2, 2, 5.0, 77);
  const auto res = metrics::logistic_probe(s, 1e-3, 5000, 1e-8, ctx);
  for (std::int64_t k = 0; k < 2; ++k) {
    EXPECT_EQ(res.train_accuracy[k], 1.0);
    EXPECT_EQ(res.test_accuracy[k], 1.0);
    EXPECT_EQ(res.converged[k], 1);
  }
  const ProbeSet m = test::make_probe_set(2, 30, 12, 16, 4, 2, 5.0, 78);
  const auto rm = metrics::logistic_probe(m, 1e-3, 5000, 1e-8, ctx);
  for (std::int64_t k = 0; k < 2; ++k) EXPECT_EQ(rm.train_accuracy[k], 1.0);
  // Feature scaling and translation: same standardized problem, same iterates.
  const ProbeSet noisy = test::make_probe_set(2, 30, 12, 16, 3, 2, 0.4, 79);
  const auto a = metrics::logistic_probe(noisy, 0.01, 3000, 1e-9, ctx);
  const auto b = metrics::logistic_probe(transformed(noisy, 250.0, 2.0), 0.01, 3000, 1e-9, ctx);
  expect_vec_near(b.train_accuracy, a.train_accuracy, 0, "train accuracy");
  expect_vec_near(b.test_log_loss, a.test_log_loss, 1e-7, "test log-loss");
  // A cap of 3 steps: not converged, 3 iterations, gradient norm above tol.
  const auto capped = metrics::logistic_probe(noisy, 0.01, 3, 1e-12, ctx);
  for (std::int64_t k = 0; k < 2; ++k) {
    EXPECT_EQ(capped.converged[k], 0);
    EXPECT_EQ(capped.iterations[k], 3);
    EXPECT_GT(capped.grad_norm[k], 1e-12);
  }
}

// ---------------------------------------------------------------------------------------------
// Fisher

struct FisherRef {
  double j = kNaN, dnorm = kNaN, within = kNaN, lambda = kNaN;
  std::vector<double> w;
};

FisherRef fisher_reference(const std::vector<Mat>& target, const std::vector<Mat>& other, double ridge, std::int64_t N,
                           bool check_eigen) {
  FisherRef r;
  if (target.empty() || other.empty()) return r;
  auto mean = [&](const std::vector<Mat>& rows) {
    std::vector<double> m(static_cast<std::size_t>(N), 0.0);
    for (const Mat& x : rows) {
      for (std::int64_t i = 0; i < N; ++i) m[i] += x[i] / static_cast<double>(rows.size());
    }
    return m;
  };
  const std::vector<double> mt = mean(target), mo = mean(other);
  std::vector<double> d(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) d[i] = mt[i] - mo[i];
  Mat sw(static_cast<std::size_t>(N * N), 0.0);
  const double n = static_cast<double>(target.size() + other.size());
  for (const auto* set : {&target, &other}) {
    const std::vector<double>& m = set == &target ? mt : mo;
    for (const Mat& x : *set) {
      for (std::int64_t i = 0; i < N; ++i) {
        for (std::int64_t j = 0; j < N; ++j) sw[i * N + j] += (x[i] - m[i]) * (x[j] - m[j]) / n;
      }
    }
  }
  double tr = 0;
  for (std::int64_t i = 0; i < N; ++i) tr += sw[i * N + i];
  r.within = tr;
  r.lambda = tr == 0 ? ridge : ridge * tr / N;
  r.dnorm = std::sqrt(dot(d, d));
  Mat m(sw);
  for (std::int64_t i = 0; i < N; ++i) m[i * N + i] += r.lambda;
  r.w = matmul(inverse(m, N), d, N, N, 1);
  r.j = dot(d, r.w);
  if (check_eigen) {
    // w is the top eigenvector of M^{-1} S_b (S_b = d d^T) with eigenvalue J: with M = V diag(e) V^T,
    // the symmetric M^{-1/2} S_b M^{-1/2} has top eigenpair (J, M^{1/2} w / |.|).
    std::vector<double> e;
    Mat v;
    jacobi_eigen(m, N, e, v);
    Mat isq(static_cast<std::size_t>(N * N), 0.0);
    for (std::int64_t i = 0; i < N; ++i) {
      for (std::int64_t j = 0; j < N; ++j) {
        for (std::int64_t t = 0; t < N; ++t) isq[i * N + j] += v[i * N + t] * v[j * N + t] / std::sqrt(e[t]);
      }
    }
    const Mat sb = matmul(d, d, N, 1, N);
    const Mat sym = matmul(matmul(isq, sb, N, N, N), isq, N, N, N);
    std::vector<double> se;
    Mat sv;
    jacobi_eigen(sym, N, se, sv);
    const std::int64_t top = std::max_element(se.begin(), se.end()) - se.begin();
    EXPECT_LE(rel_err(se[top], r.j), 1e-9) << "top eigenvalue of M^-1/2 S_b M^-1/2 vs J";
    std::vector<double> col(static_cast<std::size_t>(N));
    for (std::int64_t i = 0; i < N; ++i) col[i] = sv[i * N + top];
    const std::vector<double> dir = matmul(isq, col, N, N, 1);  // the eigenvector of M^{-1} S_b
    const double cosine = dot(dir, r.w) / std::sqrt(dot(dir, dir) * dot(r.w, r.w));
    EXPECT_NEAR(std::fabs(cosine), 1.0, 1e-9) << "w is not the top eigenvector";
    // And M^{-1} S_b w = J w directly.
    const std::vector<double> mw = matmul(inverse(m, N), matmul(sb, r.w, N, N, 1), N, N, 1);
    for (std::int64_t i = 0; i < N; ++i)
      EXPECT_NEAR(mw[i], r.j * r.w[i], 1e-9 * std::max(1.0, std::fabs(r.j * r.w[i])));
  }
  return r;
}

TEST_F(Probes, FisherMatchesDenseFormulaAndEigenvectorClaim) {
  struct Case {
    std::int64_t P, N, Q;
    int classes, groups;
  };
  for (const Case& cs : {Case{30, 6, 24, 3, 3}, Case{10, 24, 8, 2, 2}, Case{14, 12, 20, 2, 4}}) {
    const std::int64_t K = 2;
    const ProbeSet s = test::make_probe_set(K, cs.P, cs.N, cs.Q, cs.classes, cs.groups, 0.8, 500 + cs.N);
    const std::vector<std::int32_t> labels = ints(s.train_labels), tg = ints(s.test_groups);
    const int target = 1;
    const double ridge = 0.02;
    for (ProbeForm form : {ProbeForm::automatic, ProbeForm::primal, ProbeForm::dual}) {
      ProbeOptions o;
      o.form = form;
      o.keep_weights = true;
      const auto res = metrics::fisher(s, target, ridge, ctx, o);
      ASSERT_EQ(res.sets, 1 + cs.groups);
      const std::string what = "N=" + std::to_string(cs.N) + " form=" + std::to_string(int(form));
      for (std::int64_t k = 0; k < K; ++k) {
        const Mat h = model_of(s.train_features, k), ht = model_of(s.test_features, k);
        auto row = [&](const Mat& x, std::int64_t r) { return Mat(x.begin() + r * cs.N, x.begin() + (r + 1) * cs.N); };
        std::vector<Mat> tgt, other;
        for (std::int64_t p = 0; p < cs.P; ++p) (labels[p] == target ? tgt : other).push_back(row(h, p));
        for (std::int64_t set = 0; set < res.sets; ++set) {
          if (set > 0) {
            other.clear();
            for (std::int64_t q = 0; q < cs.Q; ++q) {
              if (tg[q] == set - 1) other.push_back(row(ht, q));
            }
          }
          const FisherRef ref = fisher_reference(tgt, other, ridge, cs.N, form == ProbeForm::automatic && k == 0);
          const std::size_t at = static_cast<std::size_t>(k * res.sets + set);
          EXPECT_EQ(res.target_count[set], static_cast<std::int64_t>(tgt.size()));
          EXPECT_EQ(res.other_count[set], static_cast<std::int64_t>(other.size()));
          EXPECT_EQ(res.info[at], 0) << what;
          EXPECT_LE(rel_err(res.criterion[at], ref.j), 1e-8) << what << " set " << set;
          EXPECT_LE(rel_err(res.centroid_distance[at], ref.dnorm), 1e-12) << what;
          EXPECT_LE(rel_err(res.within_variance[at], ref.within), 1e-12) << what;
          EXPECT_LE(rel_err(res.lambda[at], ref.lambda), 1e-12) << what;
          const Mat dir = model_of(res.directions.model(k), set);
          expect_vec_near(dir, ref.w, 1e-7, what + " direction");
        }
      }
    }
  }
}

TEST_F(Probes, FisherEmptySetsAndInvariance) {
  // Group 2 of 3 has no held-out examples (Q = 2 rows in groups 0 and 1 only).
  ProbeSet s = test::make_probe_set(2, 16, 5, 2, 2, 3, 0.5, 41);
  const auto res = metrics::fisher(s, 0, 0.1, ctx);
  for (std::int64_t k = 0; k < 2; ++k) {
    EXPECT_TRUE(std::isfinite(res.criterion[k * 4 + 0]));
    EXPECT_TRUE(std::isnan(res.criterion[k * 4 + 3]));
    EXPECT_TRUE(std::isnan(res.centroid_distance[k * 4 + 3]));
  }
  EXPECT_EQ(res.other_count[3], 0);
  const ProbeSet t = test::make_probe_set(2, 20, 9, 12, 3, 2, 0.5, 42);
  const auto a = metrics::fisher(t, 2, 0.05, ctx), b = metrics::fisher(transformed(t, 40.0, 1.5), 2, 0.05, ctx);
  expect_vec_near(b.criterion, a.criterion, 1e-9, "J under scaling");
  std::vector<double> scaled(a.centroid_distance);
  for (double& v : scaled) v *= 40.0;
  expect_vec_near(b.centroid_distance, scaled, 1e-11, "||d|| scales");
}

// ---------------------------------------------------------------------------------------------
// RSM / RSA

// Spearman with average ranks computed by counting.
double spearman_ref(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      double less = 0, equal = 0;
      for (double x : v) {
        less += x < v[i] ? 1 : 0;
        equal += x == v[i] ? 1 : 0;
      }
      r[i] = less + (equal + 1) / 2;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    ma += ra[i] / n;
    mb += rb[i] / n;
  }
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST_F(Probes, RsmIsThePearsonCorrelationOfMeanVectors) {
  for (auto [P, N, Q, C, G] : {std::tuple<std::int64_t, std::int64_t, std::int64_t, int, int>{20, 9, 12, 3, 2},
                               {10, 30, 0, 1, 0},
                               {15, 4, 6, 4, 3},
                               {16, 5, 2, 2, 3}}) {  // group 2 is empty: NaN rows and columns
    const std::int64_t K = 3;
    const ProbeSet s = test::make_probe_set(K, P, N, Q, C, G, 0.7, 60 + N, DType::f32);
    ProbeOptions o;
    o.max_workspace_bytes = 1;
    const Tensor r = metrics::rsm(s, ctx, o);
    const std::int64_t Ce = std::max(C, 2), M = Ce + G;
    ASSERT_EQ(r.shape(), (Shape{K, M, M}));
    const std::vector<std::int32_t> labels = ints(s.train_labels);
    const std::vector<std::int32_t> tg = Q ? ints(s.test_groups) : std::vector<std::int32_t>();
    for (std::int64_t k = 0; k < K; ++k) {
      const Mat h = model_of(s.train_features, k);
      const Mat ht = Q ? model_of(s.test_features, k) : Mat();
      std::vector<std::vector<double>> means(static_cast<std::size_t>(M), std::vector<double>(N, 0.0));
      std::vector<double> count(static_cast<std::size_t>(M), 0.0);
      for (std::int64_t p = 0; p < P; ++p) {
        count[labels[p]] += 1;
        for (std::int64_t n = 0; n < N; ++n) means[labels[p]][n] += h[p * N + n];
      }
      for (std::int64_t q = 0; q < Q && G > 0; ++q) {
        count[Ce + tg[q]] += 1;
        for (std::int64_t n = 0; n < N; ++n) means[Ce + tg[q]][n] += ht[q * N + n];
      }
      for (std::int64_t m = 0; m < M; ++m) {
        for (double& v : means[m]) v /= count[m];
      }
      for (std::int64_t i = 0; i < M; ++i) {
        for (std::int64_t j = 0; j < M; ++j) {
          double mi = 0, mj = 0;
          for (std::int64_t n = 0; n < N; ++n) {
            mi += means[i][n] / N;
            mj += means[j][n] / N;
          }
          double sij = 0, sii = 0, sjj = 0;
          for (std::int64_t n = 0; n < N; ++n) {
            sij += (means[i][n] - mi) * (means[j][n] - mj);
            sii += (means[i][n] - mi) * (means[i][n] - mi);
            sjj += (means[j][n] - mj) * (means[j][n] - mj);
          }
          const double expected = (count[i] == 0 || count[j] == 0) ? kNaN : sij / std::sqrt(sii * sjj);
          const double got = r.flat<double>((k * M + i) * M + j);
          if (std::isnan(expected)) {
            EXPECT_TRUE(std::isnan(got));
          } else {
            EXPECT_NEAR(got, expected, 1e-10) << "k " << k << " (" << i << ", " << j << ")";
          }
        }
      }
    }
  }
}

TEST_F(Probes, RsaSpearmanWithTiesAndOwnDissimilarity) {
  const ProbeSet s = test::make_probe_set(3, 24, 10, 12, 3, 3, 0.8, 91);
  const Tensor r = metrics::rsm(s, ctx);
  const std::int64_t M = 6;
  // Own dissimilarity as the reference: 1 for every model.
  for (std::int64_t k = 0; k < 3; ++k) {
    Tensor own = Tensor::host({M, M}, DType::f64);
    for (std::int64_t i = 0; i < M * M; ++i) own.flat<double>(i) = 1.0 - r.flat<double>(k * M * M + i);
    const std::vector<double> rho = metrics::rsa_spearman(r, own);
    EXPECT_NEAR(rho[k], 1.0, 1e-14);
  }
  // A model whose RSM has NaN (an empty group) gets NaN.
  const ProbeSet empty_group = test::make_probe_set(2, 12, 5, 2, 2, 3, 0.8, 92);
  const Tensor re = metrics::rsm(empty_group, ctx);
  Tensor five = Tensor::host({5, 5}, DType::f64);
  for (std::int64_t i = 0; i < 25; ++i) five.flat<double>(i) = (i / 5 == i % 5) ? 0.0 : 1.0 + (i / 5 + i % 5) % 3;
  for (double v : metrics::rsa_spearman(re, five)) EXPECT_TRUE(std::isnan(v));
  // A reference with ties (a block structure) against the explicit Spearman.
  Tensor ref = Tensor::host({M, M}, DType::f32);
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < M; ++j)
      ref.flat<float>(i * M + j) =
          i == j ? 0.0f : static_cast<float>((i % 3 == j % 3) ? 0.5 : ((i + j) % 2 ? 1.0 : 2.0));
  }
  const std::vector<double> rho = metrics::rsa_spearman(r, ref);
  for (std::int64_t k = 0; k < 3; ++k) {
    std::vector<double> a, b;
    for (std::int64_t i = 0; i < M; ++i) {
      for (std::int64_t j = i + 1; j < M; ++j) {
        a.push_back(1.0 - r.flat<double>((k * M + i) * M + j));
        b.push_back(ref.flat<float>(i * M + j));
      }
    }
    EXPECT_NEAR(rho[k], spearman_ref(a, b), 1e-14);
  }
  // Ties on the model side too: a hand-built 3 x 3 RSM and reference.
  const Tensor hand = Tensor::from_vector<double>({1, 3, 3}, {1, 0.5, 0.5, 0.5, 1, 0.2, 0.5, 0.2, 1});
  const Tensor hand_ref = Tensor::from_vector<double>({3, 3}, {0, 1, 2, 1, 0, 3, 2, 3, 0});
  EXPECT_NEAR(metrics::rsa_spearman(hand, hand_ref)[0], spearman_ref({0.5, 0.5, 0.8}, {1, 2, 3}), 1e-15);
}

TEST_F(Probes, RsaReferenceErrorsNameTheTensor) {
  const Tensor r = Tensor::from_vector<double>({1, 3, 3}, {1, 0.5, 0.5, 0.5, 1, 0.2, 0.5, 0.2, 1});
  auto expect_error = [&](const Tensor& ref, const std::string& text) {
    try {
      metrics::rsa_spearman(r, ref);
      ADD_FAILURE() << "expected an error containing " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error(Tensor::host_zeros({3, 4}, DType::f64), "'reference' must be a square");
  expect_error(Tensor::host_zeros({4, 4}, DType::f64), "'reference' is [4, 4] but 'rsm' has M = 3");
  expect_error(Tensor::from_vector<double>({3, 3}, {0, 1, 2, 1.5, 0, 3, 2, 3, 0}), "'reference' is not symmetric");
  expect_error(Tensor(), "'reference' is undefined");
}

// ---------------------------------------------------------------------------------------------
// Kernel alignment

TEST_F(Probes, KernelAlignmentMatchesTheExplicitKernel) {
  for (auto [P, N, C] : {std::tuple<std::int64_t, std::int64_t, int>{20, 6, 2}, {7, 25, 2}, {18, 5, 4}, {6, 11, 3}}) {
    const std::int64_t K = 3;
    const ProbeSet s = test::make_probe_set(K, P, N, 0, C, 0, 0.7, 70 + P);
    const std::vector<std::int32_t> labels = ints(s.train_labels);
    for (ProbeForm form : {ProbeForm::automatic, ProbeForm::primal, ProbeForm::dual}) {
      ProbeOptions o;
      o.form = form;
      const std::vector<double> a = metrics::kernel_alignment(s.train_features, s.train_labels, C, ctx, o);
      for (std::int64_t k = 0; k < K; ++k) {
        const Mat h = model_of(s.train_features, k);
        const Mat kern = matmul(h, transpose(h, P, N), P, N, P);
        double num = 0, kk = 0, yy = 0;
        for (std::int64_t i = 0; i < P; ++i) {
          for (std::int64_t j = 0; j < P; ++j) {
            double yij;
            if (C == 2) {
              yij = (labels[i] == 1 ? 1.0 : -1.0) * (labels[j] == 1 ? 1.0 : -1.0);
            } else {
              yij = labels[i] == labels[j] ? 1.0 : 0.0;
            }
            num += kern[i * P + j] * yij;
            kk += kern[i * P + j] * kern[i * P + j];
            yy += yij * yij;
          }
        }
        EXPECT_LE(rel_err(a[k], num / std::sqrt(kk * yy)), 1e-12) << "P " << P << " N " << N << " C " << C;
      }
      const std::vector<double> scaled =
          metrics::kernel_alignment(transformed(s, 30.0, 0.0).train_features, s.train_labels, C, ctx, o);
      expect_vec_near(scaled, a, 1e-12, "alignment under scaling");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bad inputs

void expect_error_naming(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing \"" << text << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST_F(Probes, BadInputsNameTheTensor) {
  const ProbeSet good = test::make_probe_set(2, 10, 4, 6, 3, 2, 0.5, 3);
  {
    ProbeSet s = good;
    s.train_labels = Tensor::host_zeros({10}, DType::f32);
    expect_error_naming([&] { metrics::ridge_probe(s, 0.1, ctx); }, "'train_labels' must be i32 [10]");
  }
  {
    ProbeSet s = good;
    s.train_labels = Tensor::from_vector<std::int32_t>({10}, {0, 1, 2, 3, 0, 1, 2, 0, 1, 2});
    expect_error_naming([&] { metrics::logistic_probe(s, 0.1, 10, 1e-6, ctx); }, "train_labels[3] = 3 is out of range");
  }
  {
    ProbeSet s = good;
    s.test_features = test::random_tensor({2, 6, 5}, DType::f64, 1);
    expect_error_naming([&] { metrics::rsm(s, ctx); }, "'test_features' must be f64[2, Q, 4]");
  }
  {
    ProbeSet s = good;
    s.test_groups = Tensor();
    expect_error_naming([&] { metrics::fisher(s, 0, 0.1, ctx); }, "'test_groups' is undefined");
  }
  {
    ProbeSet s = good;
    s.test_groups = Tensor::from_vector<std::int32_t>({6}, {0, 1, 0, 1, 2, 0});
    expect_error_naming([&] { metrics::ridge_probe(s, 0.1, ctx); }, "test_groups[4] = 2 is out of range [0, 2)");
  }
  {
    ProbeSet s = good;
    s.train_features = test::random_tensor({10, 4}, DType::f64, 1);
    expect_error_naming([&] { metrics::ridge_probe(s, 0.1, ctx); }, "'train_features' must be f32/f64 [K, P, N]");
  }
  expect_error_naming([&] { metrics::fisher(good, 3, 0.1, ctx); }, "target_class 3 is out of range");
  expect_error_naming([&] { metrics::ridge_probe(good, -1.0, ctx); }, "lambda must be finite and >= 0");
  expect_error_naming([&] { metrics::kernel_alignment(good.train_features, good.test_labels, 3, ctx); },
                      "'labels' must be i32 [10]");
  // Linear-algebra ops.
  Tensor x = Tensor::host({2, 3, 1}, DType::f64), info = Tensor::host({2}, DType::i32);
  expect_error_naming(
      [&] {
        ops::cholesky_solve(x, info, Tensor::host({2, 3, 4}, DType::f64), x, ctx);
      },
      "'a' must be f64 [K, n, n]");
  expect_error_naming(
      [&] {
        ops::cholesky_solve(x, info, Tensor::host({2, 3, 3}, DType::f64), Tensor::host({2, 4, 1}, DType::f64), ctx);
      },
      "'b' must be f64 [K, n, m]");
  Tensor bad_info = Tensor::host({3}, DType::i32);
  expect_error_naming(
      [&] {
        ops::cholesky_solve(x, bad_info, Tensor::host({2, 3, 3}, DType::f64), Tensor::host({3, 1}, DType::f64), ctx);
      },
      "'info' must be i32[2]");
}

}  // namespace
}  // namespace groove
