// CPU elementwise ops: activations against closed forms (including far tails), a central-
// difference gradient check in double for every activation, bias add, binary ops, scale/axpy
// (scalar and per-model), fill, copy, and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

double closed_form(Activation a, double x, double slope) {
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0;
    case Activation::leaky_relu:
      return x > 0 ? x : slope * x;
    case Activation::tanh:
      return std::tanh(x);
    case Activation::sigmoid:
      return 1 / (1 + std::exp(-x));
    case Activation::gelu:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case Activation::quadratic:
      return x * x;
  }
  return 0;
}

Tensor scaled(const Tensor& t, double s) {
  Tensor out = Tensor::host(t.shape(), t.dtype());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (t.dtype() == DType::f64)
      out.flat<double>(i) = s * t.flat<double>(i);
    else
      out.flat<float>(i) = static_cast<float>(s * t.flat<float>(i));
  }
  return out;
}

class Activations : public ::testing::TestWithParam<Activation> {};

TEST_P(Activations, ForwardMatchesClosedForm) {
  const Activation act = GetParam();
  Context ctx;
  Tensor x = scaled(test::random_tensor({1001}, DType::f64, 5), 6.0);  // values in +-[0.6, 6)
  Tensor y = Tensor::host(x.shape(), DType::f64), expected = Tensor::host(x.shape(), DType::f64);
  ops::activation_forward(y, x, act, ctx, 0.1);
  for (std::int64_t i = 0; i < x.numel(); ++i) expected.flat<double>(i) = closed_form(act, x.flat<double>(i), 0.1);
  EXPECT_TRUE(test::all_close(y, expected, 1e-15, 1e-13));

  // f32 agrees with f64 to float precision.
  Tensor x32 = Tensor::host(x.shape(), DType::f32), y32 = Tensor::host(x.shape(), DType::f32);
  for (std::int64_t i = 0; i < x.numel(); ++i) x32.flat<float>(i) = static_cast<float>(x.flat<double>(i));
  ops::activation_forward(y32, x32, act, ctx, 0.1);
  for (std::int64_t i = 0; i < x.numel(); ++i) expected.flat<double>(i) = closed_form(act, x32.flat<float>(i), 0.1);
  Tensor y32d = Tensor::host(x.shape(), DType::f64);
  for (std::int64_t i = 0; i < x.numel(); ++i) y32d.flat<double>(i) = y32.flat<float>(i);
  EXPECT_TRUE(test::all_close(y32d, expected, 1e-6, 1e-5));
}

TEST_P(Activations, GradientMatchesCentralDifference) {
  const Activation act = GetParam();
  Context ctx;
  Tensor x = scaled(test::random_tensor({501}, DType::f64, 9), 3.0);  // |x| >= 0.3: away from the kinks
  Tensor dy = test::random_tensor({501}, DType::f64, 10);
  Tensor dx = Tensor::host(x.shape(), DType::f64);
  ops::activation_backward(dx, dy, x, act, false, ctx, 0.05);
  const double h = 1e-6;
  Tensor xp = x.to(ctx), xm = x.to(ctx), yp = Tensor::host(x.shape(), DType::f64), ym = yp.to(ctx);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    xp.flat<double>(i) += h;
    xm.flat<double>(i) -= h;
  }
  ops::activation_forward(yp, xp, act, ctx, 0.05);
  ops::activation_forward(ym, xm, act, ctx, 0.05);
  Tensor numeric = Tensor::host(x.shape(), DType::f64);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    numeric.flat<double>(i) = dy.flat<double>(i) * (yp.flat<double>(i) - ym.flat<double>(i)) / (2 * h);
  }
  EXPECT_TRUE(test::all_close(dx, numeric, 1e-8, 1e-6));
}

TEST_P(Activations, BackwardAccumulates) {
  const Activation act = GetParam();
  Context ctx;
  Tensor x = test::random_tensor({64}, DType::f32, 1), dy = test::random_tensor({64}, DType::f32, 2);
  Tensor fresh = Tensor::host({64}, DType::f32);
  ops::activation_backward(fresh, dy, x, act, false, ctx);
  Tensor acc = test::random_tensor({64}, DType::f32, 3);
  Tensor expected = Tensor::host({64}, DType::f32);
  for (int i = 0; i < 64; ++i) expected.flat<float>(i) = acc.flat<float>(i) + fresh.flat<float>(i);
  ops::activation_backward(acc, dy, x, act, true, ctx);
  EXPECT_TRUE(test::all_close(acc, expected, 1e-6, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(All, Activations,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::leaky_relu,
                                           Activation::tanh, Activation::sigmoid, Activation::gelu,
                                           Activation::quadratic),
                         [](const auto& param_info) { return std::string(ops::activation_name(param_info.param)); });

TEST(ActivationMath, TailsStayAccurate) {
  // Where phi saturates, the derivative keeps its relative accuracy (no 1 - phi^2 cancellation).
  const double t = math::activation_derivative<Activation::tanh>(30.0, 0.0);
  EXPECT_NEAR(t / (4 * std::exp(-60.0)), 1.0, 1e-12);
  const double s = math::activation_derivative<Activation::sigmoid>(-40.0, 0.0);
  EXPECT_NEAR(s / std::exp(-40.0), 1.0, 1e-12);
  EXPECT_EQ(math::activation_forward<Activation::sigmoid>(-1000.0, 0.0), 0.0);
  EXPECT_EQ(math::activation_forward<Activation::sigmoid>(1000.0, 0.0), 1.0);
  EXPECT_EQ(math::activation_derivative<Activation::tanh>(1000.0f, 0.0f), 0.0f);
  EXPECT_EQ(math::activation_derivative<Activation::relu>(0.0, 0.0), 0.0);
  EXPECT_EQ(math::activation_derivative<Activation::leaky_relu>(0.0, 0.2), 0.2);
}

TEST(ActivationNames, ParseAndPrint) {
  EXPECT_EQ(ops::parse_activation("leaky-relu"), Activation::leaky_relu);
  EXPECT_EQ(ops::parse_activation("gelu"), Activation::gelu);
  EXPECT_STREQ(ops::activation_name(Activation::quadratic), "quadratic");
  try {
    ops::parse_activation("relu6");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected one of identity, relu"), std::string::npos);
  }
}

TEST(BiasAdd, PerModelAndShared) {
  Context ctx;
  Tensor x = test::random_tensor({3, 4, 5}, DType::f64, 1);
  Tensor b = test::random_tensor({3, 5}, DType::f64, 2);
  Tensor y = Tensor::host(x.shape(), DType::f64);
  ops::bias_add(y, x, b, ctx);
  for (int k = 0; k < 3; ++k)
    for (int p = 0; p < 4; ++p)
      for (int n = 0; n < 5; ++n)
        ASSERT_EQ(y.flat<double>((k * 4 + p) * 5 + n), x.flat<double>((k * 4 + p) * 5 + n) + b.flat<double>(k * 5 + n));
  Tensor shared = test::random_tensor({5}, DType::f64, 3);
  ops::bias_add(x, x, shared, ctx);  // in place
  EXPECT_EQ(x.flat<double>(59), y.flat<double>(59) - b.flat<double>(14) + shared.flat<double>(4));
  Tensor wrong = Tensor::host({2, 5}, DType::f64);
  EXPECT_THROW(ops::bias_add(y, x, wrong, ctx), Error);
}

TEST(Binary, AddSubMul) {
  Context ctx;
  Tensor x = test::random_tensor({7, 3}, DType::f32, 1), y = test::random_tensor({7, 3}, DType::f32, 2);
  Tensor z = Tensor::host({7, 3}, DType::f32);
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul}) {
    ops::binary(z, x, y, op, ctx);
    for (int i = 0; i < 21; ++i) {
      const float a = x.flat<float>(i), b = y.flat<float>(i);
      ASSERT_EQ(z.flat<float>(i), op == BinaryOp::add ? a + b : op == BinaryOp::sub ? a - b : a * b);
    }
  }
  Tensor other = Tensor::host({3, 7}, DType::f32);
  EXPECT_THROW(ops::binary(z, x, other, BinaryOp::add, ctx), Error);
}

TEST(ScaleAxpy, ScalarAndPerModel) {
  Context ctx;
  Tensor x = test::random_tensor({3, 10}, DType::f64, 1);
  Tensor y = test::random_tensor({3, 10}, DType::f64, 2);
  Tensor y0 = y.to(ctx);
  Tensor alpha = Tensor::from_vector<double>({3}, {0.5, -2.0, 3.0});
  ops::axpy(y, x, alpha, ctx);
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 10; ++i)
      ASSERT_DOUBLE_EQ(y.flat<double>(k * 10 + i),
                       y0.flat<double>(k * 10 + i) + alpha.flat<double>(k) * x.flat<double>(k * 10 + i));
  ops::scale(y, x, 0.25, ctx);
  for (int i = 0; i < 30; ++i) ASSERT_EQ(y.flat<double>(i), 0.25 * x.flat<double>(i));
  ops::scale(y, x, alpha, ctx);
  EXPECT_EQ(y.flat<double>(15), -2.0 * x.flat<double>(15));
  ops::axpy(y, x, -1.0, ctx);
  EXPECT_EQ(y.flat<double>(15), -3.0 * x.flat<double>(15));
  Tensor bad_alpha = Tensor::from_vector<double>({2}, {1, 2});
  EXPECT_THROW(ops::scale(y, x, bad_alpha, ctx), Error);
}

TEST(FillCopy, AllDtypes) {
  Context ctx;
  Tensor f = Tensor::host({5}, DType::f32), i = Tensor::host({5}, DType::i32);
  ops::fill(f, 1.5, ctx);
  ops::fill(i, -7, ctx);
  EXPECT_EQ(f.to_vector<float>(), std::vector<float>(5, 1.5f));
  EXPECT_EQ(i.to_vector<std::int32_t>(), std::vector<std::int32_t>(5, -7));
  EXPECT_THROW(ops::fill(i, 0.5, ctx), Error);
  Tensor src = test::random_tensor({4, 4}, DType::f64, 3), dst = Tensor::host({4, 4}, DType::f64);
  ops::copy(dst, src, ctx);
  EXPECT_TRUE(test::bitwise_equal(dst, src));
}

}  // namespace
}  // namespace groove
