// Losses: exact tails in fp32 (margins 20, 40, 80, where sigma(f) - y is exactly 0), values
// against direct double-precision formulas, weighting, per-model labels, and log10 of the loss
// where the loss itself underflows.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

struct Result {
  Tensor loss, log10_loss, dlogits, per_example;
};

Result run_loss(const Tensor& logits, const Tensor& labels, ops::LossSpec spec, const Tensor& targets = Tensor(),
                const Tensor& weights = Tensor(), double weight_sum = -1) {
  Context ctx;
  const std::int64_t k = logits.dim(0), p = logits.dim(1);
  Result r{Tensor::host({k}, logits.dtype()), Tensor::host({k}, logits.dtype()),
           Tensor::host(logits.shape(), logits.dtype()), Tensor::host({2, k, p}, DType::f64)};
  ops::loss_forward(r.loss, r.log10_loss, r.dlogits, r.per_example, logits, labels, targets, weights,
                    weight_sum > 0 ? weight_sum : static_cast<double>(p), spec, ctx);
  return r;
}

class TailExactness : public ::testing::TestWithParam<double> {};

TEST_P(TailExactness, LogisticGradientIsNonZeroAndExactInFp32) {
  const double m = GetParam();
  // The naive gradient sigma(f) - y is exactly zero in fp32 at these margins.
  const float naive = 1.f / (1.f + std::exp(-static_cast<float>(m))) - 1.f;
  EXPECT_EQ(naive, 0.f);
  for (int y : {1, 0}) {  // label +1 with f = m, label 0 (i.e. -1) with f = -m
    const Tensor logits = Tensor::from_vector<float>({1, 1, 1}, {static_cast<float>(y ? m : -m)});
    ops::LossSpec spec;
    spec.kind = LossKind::logistic;
    const Result r = run_loss(logits, Tensor::from_vector<std::int32_t>({1}, {y}), spec);
    const double expected_grad = (y ? -1.0 : 1.0) / (1.0 + std::exp(m));  // -y sigma(-y f)
    const float g = r.dlogits.flat<float>(0);
    EXPECT_NE(g, 0.f);
    EXPECT_NEAR(g / expected_grad, 1.0, 1e-5) << "margin " << m;
    EXPECT_NEAR(r.loss.flat<float>(0) / std::log1p(std::exp(-m)), 1.0, 1e-5);
    EXPECT_NEAR(r.log10_loss.flat<float>(0), std::log10(std::log1p(std::exp(-m))), 1e-5 * m);
  }
}

TEST_P(TailExactness, CrossEntropyGradientsAreNonZeroAndExactInFp32) {
  const double m = GetParam();
  // Correct class 0 ahead of the two others by m: p_j = e^-m / (1 + 2 e^-m) for j != 0.
  const Tensor logits = Tensor::from_vector<float>({1, 1, 3}, {static_cast<float>(m), 0.f, 0.f});
  const Result r = run_loss(logits, Tensor::from_vector<std::int32_t>({1}, {0}), ops::LossSpec{});
  const double other = std::exp(-m) / (1 + 2 * std::exp(-m));
  EXPECT_NE(r.dlogits.flat<float>(0), 0.f);
  EXPECT_NEAR(r.dlogits.flat<float>(1) / other, 1.0, 1e-5);
  EXPECT_NEAR(r.dlogits.flat<float>(2) / other, 1.0, 1e-5);
  // The correct class's gradient is minus the sum of the others (never p_y - 1 = 0 in fp32).
  EXPECT_NEAR(r.dlogits.flat<float>(0) / (-2 * other), 1.0, 1e-5);
  EXPECT_NEAR(r.loss.flat<float>(0) / std::log1p(2 * std::exp(-m)), 1.0, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Margins, TailExactness, ::testing::Values(20.0, 40.0, 80.0));

TEST(LossTail, Log10StaysFiniteWhereTheLossUnderflows) {
  // margin 300: the loss e^-300 underflows f32 (and nearly f64) but its log10 is -130.29.
  const Tensor logits = Tensor::from_vector<float>({1, 2, 1}, {300.f, 310.f});
  ops::LossSpec spec;
  spec.kind = LossKind::logistic;
  const Result r = run_loss(logits, Tensor::from_vector<std::int32_t>({2}, {1, 1}), spec);
  EXPECT_EQ(r.loss.flat<float>(0), 0.f);
  const double expected = (std::log(std::exp(-300.0) + std::exp(-310.0)) - std::log(2.0)) / std::log(10.0);
  EXPECT_NEAR(r.log10_loss.flat<float>(0), expected, 1e-4);
  EXPECT_NEAR(r.per_example.flat<double>(2), -300.0, 1e-9);  // natural log of example 0's loss
}

TEST(Losses, ValuesMatchDirectFormulasWithWeightsAndPerModelLabels) {
  const std::int64_t k = 2, p = 7, c = 4;
  const Tensor logits = test::random_tensor({k, p, c}, DType::f64, 1, 0.1, 3.0);
  const Tensor labels = test::random_indices({k, p}, c, 2);
  const Tensor weights = test::random_tensor({p}, DType::f64, 3, 0.5, 2.0, false);
  double wsum = 0;
  for (std::int64_t i = 0; i < p; ++i) wsum += weights.flat<double>(i);
  for (LossKind kind : {LossKind::softmax_cross_entropy, LossKind::hinge, LossKind::squared_error}) {
    ops::LossSpec spec;
    spec.kind = kind;
    spec.margin = 2.0;
    const Result r = run_loss(logits, labels, spec, Tensor(), weights, wsum);
    for (std::int64_t m = 0; m < k; ++m) {
      double total = 0;
      for (std::int64_t i = 0; i < p; ++i) {
        const double* f = &logits.flat<double>((m * p + i) * c);
        const int y = labels.flat<std::int32_t>(m * p + i);
        double l = 0;
        if (kind == LossKind::softmax_cross_entropy) {
          double z = 0;
          for (int j = 0; j < c; ++j) z += std::exp(f[j]);
          l = std::log(z) - f[y];
        } else if (kind == LossKind::hinge) {
          double best = -1e300;
          for (int j = 0; j < c; ++j) {
            if (j != y) best = std::max(best, f[j]);
          }
          l = std::max(0.0, 2.0 - (f[y] - best));
        } else {
          for (int j = 0; j < c; ++j) l += 0.5 * (f[j] - (j == y)) * (f[j] - (j == y));
        }
        total += weights.flat<double>(i) * l;
        EXPECT_NEAR(r.per_example.flat<double>(m * p + i), l, 1e-12 * (1 + l)) << kLossNames[int(kind)];
      }
      EXPECT_NEAR(r.loss.flat<double>(m), total / wsum, 1e-12) << kLossNames[int(kind)];
      EXPECT_NEAR(r.log10_loss.flat<double>(m), std::log10(total / wsum), 1e-12) << kLossNames[int(kind)];
    }
  }
}

TEST(Losses, HingeIsExactlyZeroBeyondTheMargin) {
  ops::LossSpec spec;
  spec.kind = LossKind::hinge;
  spec.margin = 1.0;
  const Tensor logits = Tensor::from_vector<double>({1, 2, 1}, {1.5, -2.0});
  const Result r = run_loss(logits, Tensor::from_vector<std::int32_t>({2}, {1, 0}), spec);
  EXPECT_EQ(r.loss.flat<double>(0), 0.0);
  EXPECT_EQ(r.dlogits.flat<double>(0), 0.0);
  EXPECT_EQ(r.dlogits.flat<double>(1), 0.0);
  EXPECT_TRUE(std::isinf(r.log10_loss.flat<double>(0)) && r.log10_loss.flat<double>(0) < 0);
}

TEST(Losses, ArgumentErrors) {
  Context ctx;
  const Tensor logits = Tensor::host({1, 3, 2}, DType::f32);
  Tensor loss = Tensor::host({1}, DType::f32), lg = Tensor::host({1}, DType::f32);
  Tensor d = Tensor::host({1, 3, 2}, DType::f32), pe = Tensor::host({2, 1, 3}, DType::f64);
  ops::LossSpec logistic;
  logistic.kind = LossKind::logistic;
  const Tensor labels = Tensor::from_vector<std::int32_t>({3}, {0, 1, 1});
  EXPECT_THROW(ops::loss_forward(loss, lg, d, pe, logits, labels, Tensor(), Tensor(), 3, logistic, ctx), Error);
  const Tensor wrong_labels = Tensor::from_vector<std::int32_t>({2}, {0, 1});
  EXPECT_THROW(ops::loss_forward(loss, lg, d, pe, logits, wrong_labels, Tensor(), Tensor(), 3, ops::LossSpec{}, ctx),
               Error);
  EXPECT_THROW(ops::loss_forward(loss, lg, d, pe, logits, labels, Tensor(), Tensor(), 0, ops::LossSpec{}, ctx), Error);
}

}  // namespace
}  // namespace groove
