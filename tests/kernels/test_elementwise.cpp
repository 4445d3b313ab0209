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

// The fused dense-layer tail: bias + activation forward equals bias_add then activation_forward
// exactly; the backward from the output equals activation_backward from the pre-activation, and
// its bias gradient is the column sum (summed in double), for every output-derivable activation.
class FusedDense : public ::testing::TestWithParam<Activation> {};

TEST_P(FusedDense, ForwardEqualsBiasAddThenActivation) {
  const Activation act = GetParam();
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor z = test::random_tensor({3, 7, 300}, dt, 1);
    const Tensor bias = test::random_tensor({3, 300}, dt, 2), shared = test::random_tensor({300}, dt, 3);
    for (const Tensor* b : {&bias, &shared, static_cast<const Tensor*>(nullptr)}) {
      Tensor expected = z.to(ctx), fused = z.to(ctx);
      if (b) ops::bias_add(expected, expected, *b, ctx);
      ops::activation_forward(expected, expected, act, ctx, 0.2);
      ops::bias_activation(fused, b ? *b : Tensor(), act, ctx, 0.2);
      EXPECT_TRUE(test::bitwise_equal(fused, expected)) << ops::activation_name(act) << (b ? "" : " no bias");
    }
  }
}

TEST_P(FusedDense, BackwardFromOutputMatchesPreActivationAndColumnSums) {
  const Activation act = GetParam();
  Context ctx;
  const std::int64_t K = 3, R = 9, N = 300;  // N spans three column blocks, the last one partial
  const Tensor z = test::random_tensor({K, R, N}, DType::f64, 4), dy = test::random_tensor({K, R, N}, DType::f64, 5);
  Tensor y = z.to(ctx);
  ops::activation_forward(y, y, act, ctx, 0.2);
  Tensor expected_dz = Tensor::host(z.shape(), DType::f64);
  ops::activation_backward(expected_dz, dy, z, act, false, ctx, 0.2);
  Tensor expected_db = Tensor::host({K, N}, DType::f64);
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t n = 0; n < N; ++n) {
      double sum = 0;
      for (std::int64_t r = 0; r < R; ++r) sum += expected_dz.flat<double>((k * R + r) * N + n);
      expected_db.flat<double>(k * N + n) = sum;
    }
  Tensor dz = Tensor::host(z.shape(), DType::f64), db = Tensor::host({K, N}, DType::f64);
  ops::activation_backward_from_output(dz, db, dy, y, act, false, false, ctx, 0.2);
  EXPECT_TRUE(test::bitwise_equal(dz, expected_dz));
  EXPECT_TRUE(test::all_close(db, expected_db, 1e-14, 1e-13));

  // Accumulation into both outputs, and dz written over dy in place.
  const Tensor dz0 = test::random_tensor(z.shape(), DType::f64, 6), db0 = test::random_tensor({K, N}, DType::f64, 7);
  Tensor dza = dz0.to(ctx), dba = db0.to(ctx);
  ops::activation_backward_from_output(dza, dba, dy, y, act, true, true, ctx, 0.2);
  for (std::int64_t i = 0; i < dz.numel(); ++i) expected_dz.flat<double>(i) += dz0.flat<double>(i);
  for (std::int64_t i = 0; i < db.numel(); ++i) expected_db.flat<double>(i) += db0.flat<double>(i);
  EXPECT_TRUE(test::all_close(dza, expected_dz, 1e-15, 1e-15));
  EXPECT_TRUE(test::all_close(dba, expected_db, 1e-14, 1e-13));
  Tensor inplace = dy.to(ctx), none;
  ops::activation_backward_from_output(inplace, none, inplace, y, act, false, false, ctx, 0.2);
  EXPECT_TRUE(test::bitwise_equal(inplace, dz));
}

TEST_P(FusedDense, BackwardIsBatchInvariantInFloat) {
  // Model k's outputs do not depend on the other models (the CPU's batch-invariance promise).
  const Activation act = GetParam();
  Context ctx;
  const std::int64_t K = 4, R = 64, N = 1000;  // large enough for the parallel path
  const Tensor y = test::random_tensor({K, R, N}, DType::f32, 8), dy = test::random_tensor({K, R, N}, DType::f32, 9);
  Tensor dz = Tensor::host(y.shape(), DType::f32), db = Tensor::host({K, N}, DType::f32);
  ops::activation_backward_from_output(dz, db, dy, y, act, false, false, ctx, 0.2);
  for (std::int64_t k = 0; k < K; ++k) {
    Tensor y1 = y.models(k, 1).to_host(), dy1 = dy.models(k, 1).to_host();
    Tensor dz1 = Tensor::host({1, R, N}, DType::f32), db1 = Tensor::host({1, N}, DType::f32);
    ops::activation_backward_from_output(dz1, db1, dy1, y1, act, false, false, ctx, 0.2);
    EXPECT_TRUE(test::bitwise_equal(dz1, dz.models(k, 1))) << "model " << k;
    EXPECT_TRUE(test::bitwise_equal(db1, db.models(k, 1))) << "model " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(OutputDerivable, FusedDense,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::leaky_relu),
                         [](const auto& param_info) { return std::string(ops::activation_name(param_info.param)); });

TEST(FusedDenseErrors, ActivationsWithoutAnExactOutputDerivativeAreRefused) {
  Context ctx;
  Tensor y = test::random_tensor({1, 2, 3}, DType::f32, 1), dz = y.to(ctx), db = Tensor::host({1, 3}, DType::f32);
  for (Activation act : {Activation::tanh, Activation::sigmoid, Activation::gelu, Activation::quadratic}) {
    try {
      ops::activation_backward_from_output(dz, db, y, y, act, false, false, ctx);
      FAIL() << ops::activation_name(act);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(ops::activation_name(act)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(ops::activation_backward_from_output(dz, db, y, y, Activation::leaky_relu, false, false, ctx, -0.1),
               Error);  // a negative slope flips the sign: y > 0 no longer tells x > 0
  Tensor wrong_db = Tensor::host({2, 3}, DType::f32);
  EXPECT_THROW(ops::activation_backward_from_output(dz, wrong_db, y, y, Activation::relu, false, false, ctx), Error);
  Tensor wrong_bias = Tensor::host({4}, DType::f32);
  EXPECT_THROW(ops::bias_activation(y, wrong_bias, Activation::relu, ctx), Error);
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
