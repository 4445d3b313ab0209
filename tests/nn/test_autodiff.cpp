// The tape and every differentiable op: central-difference gradient checks in double (inputs kept
// away from kinks by drawing continuous random values), gradient accumulation, no-grad, replay.
#include <gtest/gtest.h>

#include "nn/functional.h"
#include "nn/mlp.h"
#include "tests/common/test_util.h"
#include "tests/nn/grad_check.h"

namespace groove {
namespace {

using nn::ParamStore;
using test::expect_gradients_match;

constexpr std::int64_t K = 2, P = 5, D = 4, N = 3, C = 3;

// A squared-error head against fixed random targets: turns any [K, P, n] variable into a loss.
nn::LossOutput squared_head(Tape& tape, Var y, const Tensor& targets) {
  ops::LossSpec spec;
  spec.kind = LossKind::squared_error;
  return nn::loss(tape, y, spec, Tensor(), targets);
}

TEST(Autodiff, LinearWithBiasAndBatchedInput) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("x", {P, D});
  ps.add("w", {N, D});
  ps.add("b", {N});
  ps.finalize();
  test::randomize(ps, 1);
  const Tensor targets = test::random_tensor({P, N}, DType::f64, 2);
  expect_gradients_match(ps, [&](Tape& t) {
    const Var y = nn::linear(t, ps.bind(t, 0), ps.bind(t, 1), ps.bind(t, 2), 0.7);
    return squared_head(t, y, targets).loss;
  });
}

TEST(Autodiff, LinearSharedInputPerModelScaleNoBias) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("w", {N, D});
  ps.finalize();
  test::randomize(ps, 3);
  const Tensor x = test::random_tensor({P, D}, DType::f64, 4);
  const Tensor scale = Tensor::from_vector<double>({K}, {0.5, -1.5});
  const Tensor targets = test::random_tensor({K, P, N}, DType::f64, 5);
  expect_gradients_match(ps, [&](Tape& t) {
    const Var y = nn::linear(t, t.input(x), ps.bind(t, 0), Var{}, 2.0, scale);
    return squared_head(t, y, targets).loss;
  });
}

class ActivationGrad : public ::testing::TestWithParam<Activation> {};

TEST_P(ActivationGrad, ThroughTwoLinearLayers) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("w0", {N, D});
  ps.add("b0", {N});
  ps.add("w1", {C, N});
  ps.finalize();
  test::randomize(ps, 6);
  const Tensor x = test::random_tensor({P, D}, DType::f64, 7);
  const Tensor labels = test::random_indices({P}, C, 8);
  expect_gradients_match(ps, [&](Tape& t) {
    Var h = nn::linear(t, t.input(x), ps.bind(t, 0), ps.bind(t, 1));
    h = nn::activation(t, h, GetParam(), 0.1);
    const Var f = nn::linear(t, h, ps.bind(t, 2), Var{});
    return nn::loss(t, f, ops::LossSpec{}, labels).loss;
  });
}

INSTANTIATE_TEST_SUITE_P(All, ActivationGrad,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::leaky_relu,
                                           Activation::tanh, Activation::sigmoid, Activation::gelu,
                                           Activation::quadratic),
                         [](const auto& param_info) { return std::string(ops::activation_name(param_info.param)); });

// dense = linear + activation in one node (phi' from the output): gradient-checked with a batched
// input (dx), a per-model scale, and a bias shared by two dense nodes (bias gradient accumulated).
class DenseGrad : public ::testing::TestWithParam<Activation> {};

TEST_P(DenseGrad, BatchedInputScaleAndSharedBias) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("x", {P, D});
  ps.add("w0", {N, D});
  ps.add("b0", {N});
  ps.add("w1", {N, D});
  ps.finalize();
  test::randomize(ps, 21);
  const Tensor x2 = test::random_tensor({P, D}, DType::f64, 22);
  const Tensor scale = Tensor::from_vector<double>({K}, {0.5, -1.5});
  const Tensor targets = test::random_tensor({K, P, N}, DType::f64, 23);
  expect_gradients_match(ps, [&](Tape& t) {
    const Var b = ps.bind(t, 2);
    const Var h1 = nn::dense(t, ps.bind(t, 0), ps.bind(t, 1), b, GetParam(), 0.1, 0.7, scale);
    const Var h2 = nn::dense(t, t.input(x2), ps.bind(t, 3), b, GetParam(), 0.1);
    return squared_head(t, nn::add(t, h1, h2), targets).loss;
  });
}

TEST_P(DenseGrad, EqualsLinearThenActivationInFloat) {
  // The fused node gives the same values and, up to the bias gradient's summation order, the same
  // gradients as the two nodes it replaces, on f32 data.
  Context ctx;
  const std::int64_t k = 3, p = 33, d = 17, n = 300;
  nn::ParamStore ps(ctx, k, DType::f32);
  ps.add("w", {n, d});
  ps.add("b", {n});
  ps.finalize();
  test::randomize(ps, 24);
  const Tensor x = test::random_tensor({p, d}, DType::f32, 25);
  const Tensor labels = test::random_indices({p}, 4, 26);
  const Tensor w_out = test::random_tensor({k, 4, n}, DType::f32, 27);
  auto run = [&](bool fused, Tensor* h_out) {
    Tape t(ctx);
    const Var w = ps.bind(t, 0), b = ps.bind(t, 1);
    const Var h = fused ? nn::dense(t, t.input(x), w, b, GetParam(), 0.1, 0.25)
                        : nn::activation(t, nn::linear(t, t.input(x), w, b, 0.25), GetParam(), 0.1);
    *h_out = t.value(h).to_host();
    const Var f = nn::linear(t, h, t.input(w_out), Var{});
    t.backward(nn::loss(t, f, ops::LossSpec{}, labels).loss);
    return std::make_pair(ps.grad(0).to_host(), ps.grad(1).to_host());
  };
  Tensor h_fused, h_plain;
  const auto fused = run(true, &h_fused);
  const auto plain = run(false, &h_plain);
  EXPECT_TRUE(test::bitwise_equal(h_fused, h_plain));
  EXPECT_TRUE(test::all_close(fused.first, plain.first, 1e-6, 1e-5));
  EXPECT_TRUE(test::all_close(fused.second, plain.second, 1e-6, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(OutputDerivable, DenseGrad,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::leaky_relu),
                         [](const auto& param_info) { return std::string(ops::activation_name(param_info.param)); });

TEST(Autodiff, DenseRefusesActivationsWithoutAnExactOutputDerivative) {
  Context ctx;
  ParamStore ps(ctx, 1, DType::f64);
  ps.add("w", {N, D});
  ps.finalize();
  Tape t(ctx);
  const Tensor x = test::random_tensor({P, D}, DType::f64, 28);
  try {
    nn::dense(t, t.input(x), ps.bind(t, 0), Var{}, Activation::tanh);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dense: the derivative of tanh"), std::string::npos) << e.what();
  }
}

TEST(Autodiff, AddAccumulatesIncludingTheSameVariableTwice) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("a", {P, N});
  ps.add("b", {P, N});
  ps.finalize();
  test::randomize(ps, 9);
  const Tensor targets = test::random_tensor({P, N}, DType::f64, 10);
  expect_gradients_match(ps, [&](Tape& t) {
    const Var a = ps.bind(t, 0), b = ps.bind(t, 1);
    const Var s = nn::add(t, nn::add(t, a, a), nn::activation(t, b, Activation::tanh));  // a used twice, b once
    const Var skip = nn::add(t, s, b);                                                   // b reached twice
    return squared_head(t, skip, targets).loss;
  });
}

TEST(Autodiff, DropoutAndGaussianNoise) {
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("x", {P, D});
  ps.add("w", {N, D});
  ps.finalize();
  test::randomize(ps, 11);
  const Tensor targets = test::random_tensor({P, N}, DType::f64, 12);
  const nn::RngRef rng{Tensor::from_vector<std::int32_t>({K}, {3, 4}), Tensor::from_vector<std::int32_t>({1}, {5}), 9};
  expect_gradients_match(ps, [&](Tape& t) {
    Var h = nn::dropout(t, ps.bind(t, 0), 0.4, rng);
    h = nn::gaussian_noise(t, h, 0.3, rng);
    return squared_head(t, nn::linear(t, h, ps.bind(t, 1), Var{}), targets).loss;
  });
}

struct LossCase {
  const char* name;
  LossKind kind;
  std::int64_t classes;
  bool real_targets, weights;
};

class LossGrad : public ::testing::TestWithParam<LossCase> {};

TEST_P(LossGrad, MatchesCentralDifferences) {
  const LossCase c = GetParam();
  Context ctx;
  ParamStore ps(ctx, K, DType::f64);
  ps.add("logits", {P, c.classes});
  ps.finalize();
  test::randomize(ps, 13, 2.0);
  const Tensor labels = test::random_indices({K, P}, static_cast<std::int32_t>(c.classes == 1 ? 2 : c.classes), 14);
  const Tensor targets = c.real_targets ? test::random_tensor({P, c.classes}, DType::f64, 15) : Tensor();
  const Tensor weights = c.weights ? test::random_tensor({P}, DType::f64, 16, 0.5, 3.0, false) : Tensor();
  ops::LossSpec spec;
  spec.kind = c.kind;
  spec.margin = 1.5;
  expect_gradients_match(ps, [&](Tape& t) {
    return nn::loss(t, ps.bind(t, 0), spec, c.real_targets ? Tensor() : labels, targets, weights).loss;
  });
}

INSTANTIATE_TEST_SUITE_P(All, LossGrad,
                         ::testing::Values(LossCase{"cross_entropy", LossKind::softmax_cross_entropy, 4, false, false},
                                           LossCase{"cross_entropy_weighted", LossKind::softmax_cross_entropy, 3, false,
                                                    true},
                                           LossCase{"logistic", LossKind::logistic, 1, false, true},
                                           LossCase{"hinge_binary", LossKind::hinge, 1, false, false},
                                           LossCase{"hinge_multiclass", LossKind::hinge, 4, false, true},
                                           LossCase{"squared_labels", LossKind::squared_error, 3, false, false},
                                           LossCase{"squared_targets", LossKind::squared_error, 2, true, true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// A whole mean-field MLP, gradient-checked; its hidden layers are fused dense nodes where the
// activation allows (relu) and linear + activation nodes where it does not (gelu).
class WholeMeanFieldMlp : public ::testing::TestWithParam<Activation> {};

TEST_P(WholeMeanFieldMlp, NodesAndGradients) {
  Context ctx;
  nn::MlpSpec spec;
  spec.input_dim = D;
  spec.hidden = {6, 5};
  spec.output_dim = 2;
  spec.activation = GetParam();
  spec.parameterization = nn::Parameterization::mean_field;
  nn::EnsembleSpec ens;
  ens.models = K;
  ens.seeds = {1, 2};
  ens.gamma = {0.5, 2.0};
  ens.dtype = DType::f64;
  nn::Mlp mlp(ctx, spec, ens);
  // Non-zero biases so their gradients are exercised away from the initial point.
  Tensor flat = mlp.params().flat_values();
  Tensor noise = Tensor::host(flat.shape(), DType::f64);
  ops::random_normal(noise, RngKey{5, 5, 0}, 0.0, 0.1, ctx);
  ops::axpy(flat, noise, 1.0, ctx);
  const Tensor x = test::random_tensor({P, D}, DType::f64, 17);
  const Tensor labels = test::random_indices({P}, 2, 18);
  const nn::RngRef rng{Tensor::from_vector<std::int32_t>({K}, {1, 2}), Tensor::from_vector<std::int32_t>({1}, {0}), 0};
  {
    Tape t(ctx);
    mlp.forward(t, t.input(x), rng);
    std::vector<std::string> kinds;
    for (const TapeNode& n : t.nodes()) kinds.push_back(n.name);
    const bool fused = GetParam() == Activation::relu;
    const std::vector<std::string> expected =
        fused ? std::vector<std::string>{"dense", "dense", "linear"}
              : std::vector<std::string>{"linear", "activation", "linear", "activation", "linear"};
    EXPECT_EQ(kinds, expected);
    EXPECT_EQ(t.tagged("features").id, t.nodes()[fused ? 1 : 3].output);
  }
  expect_gradients_match(mlp.params(), [&](Tape& t) {
    return nn::loss(t, mlp.forward(t, t.input(x), rng), ops::LossSpec{}, labels).loss;
  });
}

INSTANTIATE_TEST_SUITE_P(FusedAndNot, WholeMeanFieldMlp, ::testing::Values(Activation::relu, Activation::gelu),
                         [](const auto& param_info) { return std::string(ops::activation_name(param_info.param)); });

TEST(Tape, GradientsOnlyWhereNeededAndNoGrad) {
  Context ctx;
  ParamStore ps(ctx, 1, DType::f64);
  ps.add("w", {N, D});
  ps.finalize();
  test::randomize(ps, 19);
  Tape tape(ctx);
  const Var x = tape.input(test::random_tensor({P, D}, DType::f64, 20));
  EXPECT_FALSE(tape.requires_grad(x));
  const Var y = nn::linear(tape, x, ps.bind(tape, 0), Var{});
  EXPECT_TRUE(tape.requires_grad(y));
  {
    Tape::NoGrad guard(tape);
    const Var z = nn::activation(tape, y, Activation::relu);
    EXPECT_FALSE(tape.requires_grad(z));
    EXPECT_FALSE(tape.grad(z).defined());
  }
  EXPECT_TRUE(tape.grad_enabled());
  const Var data_only = nn::activation(tape, x, Activation::tanh);
  EXPECT_FALSE(tape.requires_grad(data_only));
  EXPECT_NE(tape.dump().find("linear"), std::string::npos);
  const Tensor labels = Tensor::from_vector<std::int32_t>({P}, {0, 1, 2, 0, 1});
  const auto nograd_loss = [&] {
    Tape::NoGrad guard(tape);
    return nn::loss(tape, y, ops::LossSpec{}, labels).loss;
  }();
  EXPECT_THROW(tape.backward(nograd_loss), Error);
}

TEST(Tape, ParameterGradientsOverwriteOrAccumulateAcrossPasses) {
  Context ctx;
  ParamStore ps(ctx, 1, DType::f64);
  ps.add("w", {N, D});
  ps.finalize();
  test::randomize(ps, 21);
  Tape tape(ctx);
  const Tensor labels = Tensor::from_vector<std::int32_t>({P}, {0, 1, 2, 0, 1});
  const Var f = nn::linear(tape, tape.input(test::random_tensor({P, D}, DType::f64, 22)), ps.bind(tape, 0), Var{});
  const Var loss = nn::loss(tape, f, ops::LossSpec{}, labels).loss;
  tape.backward(loss);
  const Tensor g1 = ps.grad(0).to_host();
  tape.backward(loss);  // overwrite: the same gradient
  EXPECT_TRUE(test::bitwise_equal(ps.grad(0), g1));
  tape.backward(loss, /*accumulate_parameter_grads=*/true);  // accumulate: twice the gradient
  Tensor twice = Tensor::host(g1.shape(), DType::f64);
  for (std::int64_t i = 0; i < g1.numel(); ++i) twice.flat<double>(i) = 2 * g1.flat<double>(i);
  EXPECT_TRUE(test::all_close(ps.grad(0), twice, 1e-15, 1e-14));
}

TEST(Tape, UnreachedParametersGetZeroGradients) {
  Context ctx;
  ParamStore ps(ctx, 1, DType::f64);
  ps.add("used", {N, D});
  ps.add("unused", {N, D});
  ps.finalize();
  Tensor stale = ps.grad(1);
  ops::fill(stale, 5.0, ctx);
  Tape tape(ctx);
  const Var f = nn::linear(tape, tape.input(test::random_tensor({P, D}, DType::f64, 23)), ps.bind(tape, 0), Var{});
  ps.bind(tape, 1);
  tape.backward(nn::loss(tape, f, ops::LossSpec{}, Tensor::from_vector<std::int32_t>({P}, {0, 1, 2, 0, 1})).loss);
  for (std::int64_t i = 0; i < stale.numel(); ++i) EXPECT_EQ(stale.flat<double>(i), 0.0);
}

TEST(Autodiff, ShapeErrorsNameTheOperands) {
  Context ctx;
  ParamStore ps(ctx, 2, DType::f64);
  ps.add("w", {N, D});
  ps.finalize();
  Tape tape(ctx);
  const Var x = tape.input(Tensor::host({P, D + 1}, DType::f64));
  try {
    nn::linear(tape, x, ps.bind(tape, 0), Var{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expects 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nn::loss(tape, tape.input(Tensor::host({2, P, 1}, DType::f64)), ops::LossSpec{},
                        Tensor::from_vector<std::int32_t>({P}, {0, 1, 0, 1, 0})),
               Error);  // cross-entropy needs C >= 2
}

}  // namespace
}  // namespace groove
