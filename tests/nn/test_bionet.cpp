// BioNet (nn/bionet.h): parameters and initialization, the forward pass against an independent
// host computation in double, central-difference gradients of every parameter, dropout and noise
// in training mode (rates, streams, determinism), per-model independence, a short training run,
// and the spec errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "nn/bionet.h"
#include "nn/trainer.h"
#include "tests/common/test_util.h"
#include "tests/nn/grad_check.h"

namespace groove {
namespace {

using nn::BioNet;
using nn::BioNetSpec;

BioNetSpec make_spec(std::int64_t d, std::int64_t width, std::int64_t narrow, std::int64_t c) {
  BioNetSpec spec;
  spec.input_dim = d;
  spec.width = width;
  spec.narrow = narrow;
  spec.output_dim = c;
  return spec;
}

nn::EnsembleSpec make_ensemble(std::vector<std::uint64_t> seeds, DType dtype = DType::f32,
                               std::vector<double> init_scale = {1.0}) {
  nn::EnsembleSpec ens;
  ens.models = static_cast<std::int64_t>(seeds.size());
  ens.seeds = std::move(seeds);
  ens.init_scale = std::move(init_scale);
  ens.dtype = dtype;
  return ens;
}

nn::RngRef make_rng(const std::vector<std::int32_t>& seeds, std::int32_t step, bool train) {
  nn::RngRef rng;
  rng.seeds = Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(seeds.size())}, seeds);
  rng.step = Tensor::from_vector<std::int32_t>({1}, {step});
  rng.stream = 0;
  rng.train = train;
  return rng;
}

// A host tensor of `dtype` holding `values` (rounded to f32 for an f32 tensor).
Tensor host_tensor(const Shape& shape, DType dtype, const std::vector<double>& values) {
  Tensor t = Tensor::host(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::f32)
      t.flat<float>(i) = static_cast<float>(values[static_cast<std::size_t>(i)]);
    else
      t.flat<double>(i) = values[static_cast<std::size_t>(i)];
  }
  return t;
}

// The forward pass of SCIENCE.md's variant in evaluation mode, computed on the host in double
// from the model's parameters, written independently of the tape: h3 [K, P, narrow] and
// f [K, P, C]. x is shared [P, D] or per model [K, P, D]. skip = false drops "+ r" (to show the
// test notices it).
struct Reference {
  std::vector<double> h3, f;
};
Reference reference_forward(const BioNet& net, const Tensor& x, bool skip = true) {
  const nn::ParamStore& ps = net.params();
  const BioNetSpec& s = net.spec();
  const std::int64_t K = ps.models(), P = x.dim(-2), D = s.input_dim;
  const bool shared = x.ndim() == 2;
  auto param = [&](const std::string& name) { return ps.value(ps.index(name)).to_host(); };
  // y[p][o] = sum_i W[k][o][i] in[p][i] + b[k][o]
  auto dense = [&](std::int64_t k, const std::vector<double>& in, std::int64_t n_in, const std::string& layer) {
    const Tensor w = param(layer + ".weight");
    const Tensor b = s.bias ? param(layer + ".bias") : Tensor();
    const std::int64_t n_out = w.dim(1);
    std::vector<double> out(static_cast<std::size_t>(P * n_out));
    for (std::int64_t p = 0; p < P; ++p) {
      for (std::int64_t o = 0; o < n_out; ++o) {
        double acc = s.bias ? b.value(k * n_out + o) : 0.0;
        for (std::int64_t i = 0; i < n_in; ++i)
          acc += w.value((k * n_out + o) * n_in + i) * in[static_cast<std::size_t>(p * n_in + i)];
        out[static_cast<std::size_t>(p * n_out + o)] = acc;
      }
    }
    return out;
  };
  auto relu = [](std::vector<double> v) {
    for (double& e : v) e = e > 0 ? e : 0.0;
    return v;
  };
  Reference ref;
  for (std::int64_t k = 0; k < K; ++k) {
    std::vector<double> xk(static_cast<std::size_t>(P * D));
    for (std::int64_t i = 0; i < P * D; ++i) xk[static_cast<std::size_t>(i)] = x.value((shared ? 0 : k * P * D) + i);
    const std::vector<double> h1 = relu(dense(k, xk, D, "layer0"));
    const std::vector<double> a = relu(dense(k, h1, s.width, "layer1"));
    const std::vector<double> r = relu(dense(k, a, s.width, "feedback"));
    std::vector<double> h2 = a;
    if (skip)
      for (std::size_t i = 0; i < h2.size(); ++i) h2[i] += r[i];
    std::vector<double> h3 = dense(k, h2, s.width, "layer2");
    for (double& e : h3) e = e > 0 ? e : s.slope * e;
    const std::vector<double> f = dense(k, h3, s.narrow, "layer3");
    ref.h3.insert(ref.h3.end(), h3.begin(), h3.end());
    ref.f.insert(ref.f.end(), f.begin(), f.end());
  }
  return ref;
}

// The nodes of one op kind on a tape, in recording order.
std::vector<const TapeNode*> nodes_of(const Tape& tape, nn::OpKind kind) {
  std::vector<const TapeNode*> out;
  for (const TapeNode& n : tape.nodes())
    if (n.kind == static_cast<int>(kind)) out.push_back(&n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameters and initialization

TEST(BioNet, ParameterNamesShapesAndOrder) {
  Context ctx;
  const BioNetSpec spec = make_spec(7, 12, 5, 3);
  BioNet net(ctx, spec, make_ensemble({1, 2}));
  const nn::ParamStore& ps = net.params();
  const std::vector<std::string> names = {"layer0.weight",   "layer0.bias",   "layer1.weight", "layer1.bias",
                                          "feedback.weight", "feedback.bias", "layer2.weight", "layer2.bias",
                                          "layer3.weight",   "layer3.bias"};
  const std::vector<Shape> shapes = {{2, 12, 7}, {2, 12},    {2, 12, 12}, {2, 12},   {2, 12, 12},
                                     {2, 12},    {2, 5, 12}, {2, 5},      {2, 3, 5}, {2, 3}};
  ASSERT_EQ(ps.size(), 10);
  for (int p = 0; p < ps.size(); ++p) {
    EXPECT_EQ(ps.name(p), names[static_cast<std::size_t>(p)]);
    EXPECT_EQ(ps.value(p).shape(), shapes[static_cast<std::size_t>(p)]) << ps.name(p);
  }
  // The readout is the last parameter named "*.weight" (what the Monitor's readout norm reads).
  int last_weight = -1;
  for (int p = 0; p < ps.size(); ++p)
    if (ps.name(p).size() > 7 && ps.name(p).substr(ps.name(p).size() - 7) == ".weight") last_weight = p;
  EXPECT_EQ(ps.name(last_weight), "layer3.weight");
  EXPECT_EQ(net.input_dim(), 7);
  EXPECT_EQ(net.output_dim(), 3);
  EXPECT_EQ(net.feature_dim(), 5);
  EXPECT_TRUE(net.stochastic());

  BioNetSpec no_bias = spec;
  no_bias.bias = false;
  no_bias.dropout1 = no_bias.dropout2 = no_bias.noise_stddev = 0;
  BioNet plain(ctx, no_bias, make_ensemble({1}));
  ASSERT_EQ(plain.params().size(), 5);
  EXPECT_EQ(plain.params().name(2), "feedback.weight");
  EXPECT_EQ(plain.params().name(4), "layer3.weight");
  EXPECT_FALSE(plain.stochastic());
}

TEST(BioNet, InitializationIsStandardPerModelAndPerParameter) {
  Context ctx;
  const BioNetSpec spec = make_spec(50, 200, 100, 2);
  const std::vector<double> scales = {1.0, 0.5};
  BioNet net(ctx, spec, make_ensemble({3, 4}, DType::f64, scales));
  const nn::ParamStore& ps = net.params();
  for (int p = 0; p < ps.size(); ++p) {
    const Tensor v = ps.value(p);
    const bool weight = ps.name(p).find(".weight") != std::string::npos;
    for (std::int64_t k = 0; k < 2; ++k) {
      const Tensor vk = v.model(k);
      double sum = 0, sq = 0;
      for (std::int64_t i = 0; i < vk.numel(); ++i) {
        sum += vk.value(i);
        sq += vk.value(i) * vk.value(i);
      }
      if (!weight) {
        EXPECT_EQ(sq, 0.0) << ps.name(p) << ": biases start at zero";
        continue;
      }
      const double n = static_cast<double>(vk.numel()), fan_in = static_cast<double>(v.dim(2));
      const double expected = scales[static_cast<std::size_t>(k)] / std::sqrt(fan_in);
      const double stddev = std::sqrt(sq / n - (sum / n) * (sum / n));
      // The sample stddev of n normals has relative stddev 1/sqrt(2n); allow 6 of them (+1%).
      EXPECT_NEAR(stddev / expected, 1.0, 6.0 / std::sqrt(2 * n) + 0.01) << ps.name(p) << " model " << k;
      EXPECT_NEAR(sum / n, 0.0, 6.0 * expected / std::sqrt(n)) << ps.name(p) << " model " << k;
    }
  }
  // layer1 and feedback have the same shape: distinct streams give them distinct values.
  const Tensor w1 = ps.value(ps.index("layer1.weight")), wf = ps.value(ps.index("feedback.weight"));
  EXPECT_NE(w1.value(0), wf.value(0));
  EXPECT_FALSE(test::bitwise_equal(w1, wf));
  // Models with different seeds differ (after undoing the scale).
  EXPECT_NE(w1.model(0).value(0), 2.0 * w1.model(1).value(0));
  // initialize() re-draws the same values.
  const Tensor before = ps.flat_values().to_host();
  test::randomize(net.params(), 9);
  net.initialize();
  EXPECT_TRUE(test::bitwise_equal(net.params().flat_values(), before));
}

// ---------------------------------------------------------------------------------------------
// Forward pass against the host reference

struct ForwardCase {
  std::int64_t d, width, narrow, c, p;
  DType dtype;
  bool per_model_input, bias;
};

class BioNetForward : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(BioNetForward, MatchesAHostComputationInDouble) {
  const ForwardCase fc = GetParam();
  Context ctx;
  constexpr std::int64_t K = 3;
  BioNetSpec spec = make_spec(fc.d, fc.width, fc.narrow, fc.c);
  spec.slope = 0.05;
  spec.bias = fc.bias;
  BioNet net(ctx, spec, make_ensemble({11, 12, 13}, fc.dtype));
  test::randomize(net.params(), 21, 0.6);  // non-zero biases, both signs at every layer
  const Tensor x = test::random_tensor(fc.per_model_input ? Shape{K, fc.p, fc.d} : Shape{fc.p, fc.d}, fc.dtype, 22,
                                       -1.0, 1.0, false);
  Tape tape(ctx);
  const Var f = net.forward(tape, tape.input(x), make_rng({1, 2, 3}, 0, /*train=*/false));
  EXPECT_TRUE(nodes_of(tape, nn::OpKind::dropout).empty());
  EXPECT_TRUE(nodes_of(tape, nn::OpKind::gaussian_noise).empty());
  const Reference ref = reference_forward(net, x);
  const double rtol = fc.dtype == DType::f64 ? 1e-12 : 2e-5, atol = fc.dtype == DType::f64 ? 1e-12 : 2e-5;
  ASSERT_EQ(tape.value(f).shape(), (Shape{K, fc.p, fc.c}));
  EXPECT_TRUE(test::all_close(tape.value(f), host_tensor({K, fc.p, fc.c}, fc.dtype, ref.f), atol, rtol));
  const Var features = tape.tagged("features");
  ASSERT_TRUE(features.defined());
  EXPECT_TRUE(test::all_close(tape.value(features), host_tensor({K, fc.p, fc.narrow}, fc.dtype, ref.h3), atol, rtol));
  // The reference without the skip connection's "+ r" is told apart (the feedback path matters).
  const Reference no_skip = reference_forward(net, x, /*skip=*/false);
  double diff = 0;
  for (std::size_t i = 0; i < ref.f.size(); ++i) diff = std::max(diff, std::fabs(ref.f[i] - no_skip.f[i]));
  EXPECT_GT(diff, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(BioNet, BioNetForward,
                         ::testing::Values(ForwardCase{3, 5, 4, 1, 7, DType::f64, false, true},
                                           ForwardCase{8, 16, 6, 3, 11, DType::f64, true, true},
                                           ForwardCase{1, 2, 1, 1, 1, DType::f64, false, true},
                                           ForwardCase{13, 33, 9, 2, 20, DType::f64, false, false},
                                           ForwardCase{10, 40, 12, 4, 9, DType::f32, false, true},
                                           ForwardCase{5, 17, 3, 1, 6, DType::f32, true, false}),
                         [](const auto& param_info) {
                           const ForwardCase& c = param_info.param;
                           return "d" + std::to_string(c.d) + "_w" + std::to_string(c.width) + "_n" +
                                  std::to_string(c.narrow) + "_c" + std::to_string(c.c) + "_p" + std::to_string(c.p) +
                                  (c.dtype == DType::f64 ? "_f64" : "_f32") +
                                  (c.per_model_input ? "_permodel" : "_shared") + (c.bias ? "_bias" : "_nobias");
                         });

// ---------------------------------------------------------------------------------------------
// Gradients

struct GradCase {
  const char* name;
  bool train;
  std::int64_t classes;
};

class BioNetGrad : public ::testing::TestWithParam<GradCase> {};

// d(sum_k loss_k)/d(every parameter element) by central differences in f64. In training mode the
// dropout masks and the noise are fixed by the RngRef (seeds, stream, step), which the replays
// share, so both sides of each difference see the same masks.
TEST_P(BioNetGrad, EveryParameterMatchesCentralDifferences) {
  const GradCase gc = GetParam();
  Context ctx;
  constexpr std::int64_t P = 6, D = 3;
  BioNetSpec spec = make_spec(D, 5, 4, gc.classes);
  spec.slope = 0.1;
  spec.dropout1 = 0.3;
  spec.dropout2 = 0.4;
  spec.noise_stddev = 0.2;
  BioNet net(ctx, spec, make_ensemble({1, 2, 3}, DType::f64));
  test::randomize(net.params(), 31, 0.7);
  const Tensor x = test::random_tensor({P, D}, DType::f64, 32, -1.0, 1.0, false);
  const Tensor labels = test::random_indices({P}, gc.classes == 1 ? 2 : static_cast<std::int32_t>(gc.classes), 33);
  const nn::RngRef rng = make_rng({4, 5, 6}, 7, gc.train);
  ops::LossSpec loss_spec;
  loss_spec.kind = gc.classes == 1 ? LossKind::logistic : LossKind::softmax_cross_entropy;
  std::size_t n_dropout = 0, n_noise = 0;
  test::expect_gradients_match(net.params(), [&](Tape& t) {
    const Var f = net.forward(t, t.input(x), rng);
    n_dropout = nodes_of(t, nn::OpKind::dropout).size();
    n_noise = nodes_of(t, nn::OpKind::gaussian_noise).size();
    return nn::loss(t, f, loss_spec, labels).loss;
  });
  EXPECT_EQ(n_dropout, gc.train ? 2u : 0u);
  EXPECT_EQ(n_noise, gc.train ? 3u : 0u);
}

INSTANTIATE_TEST_SUITE_P(BioNet, BioNetGrad,
                         ::testing::Values(GradCase{"eval_cross_entropy", false, 3},
                                           GradCase{"train_cross_entropy", true, 3},
                                           GradCase{"train_logistic", true, 1}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// ---------------------------------------------------------------------------------------------
// Dropout and noise

class BioNetRandomness : public ::testing::Test {
 protected:
  static constexpr std::int64_t K = 2, P = 64, D = 10, W = 400, N = 300, C = 2;
  BioNetRandomness()
      : net_(ctx_, make_spec(D, W, N, C), make_ensemble({5, 5})),  // both models start identical
        x_(test::random_tensor({P, D}, DType::f32, 41, -1.0, 1.0, false)) {}

  Context ctx_;
  BioNet net_;
  Tensor x_;
};

TEST_F(BioNetRandomness, DropoutRatesMasksAndNoiseInTraining) {
  const BioNetSpec& spec = net_.spec();
  Tape tape(ctx_);
  const nn::RngRef rng = make_rng({1, 2}, 0, true);
  const Var f = net_.forward(tape, tape.input(x_), rng);
  const auto drops = nodes_of(tape, nn::OpKind::dropout);
  const auto noises = nodes_of(tape, nn::OpKind::gaussian_noise);
  ASSERT_EQ(drops.size(), 2u);
  ASSERT_EQ(noises.size(), 3u);
  std::set<std::int64_t> streams;
  for (const TapeNode* n : drops) streams.insert(n->ints[0]);
  for (const TapeNode* n : noises) streams.insert(n->ints[0]);
  EXPECT_EQ(streams.size(), 5u) << "every dropout and noise layer draws from its own stream";
  // The second dropout acts on the features (the LeakyReLU output).
  EXPECT_EQ(drops[1]->inputs[0], tape.tagged("features").id);

  const double rates[2] = {spec.dropout1, spec.dropout2};
  for (int l = 0; l < 2; ++l) {
    const Tensor in = tape.value(drops[static_cast<std::size_t>(l)]->inputs[0]);
    const Tensor out = tape.value(drops[static_cast<std::size_t>(l)]->output);
    const double p = rates[l];
    for (std::int64_t k = 0; k < K; ++k) {
      const Tensor ik = in.model(k), ok = out.model(k);
      std::int64_t active = 0, dropped = 0;
      for (std::int64_t i = 0; i < ik.numel(); ++i) {
        const double a = ik.value(i), b = ok.value(i);
        if (a == 0) {  // ReLU zeros stay zero (the LeakyReLU output is never exactly zero here)
          EXPECT_EQ(b, 0.0);
          continue;
        }
        ++active;
        if (b == 0) {
          ++dropped;
        } else {
          EXPECT_NEAR(b, a / (1 - p), 1e-6 * std::fabs(a / (1 - p))) << "inverted dropout scales by 1/(1-p)";
        }
      }
      ASSERT_GT(active, 5000) << "layer " << l;
      if (l == 1) {
        EXPECT_EQ(active, ik.numel());
      }
      const double frac = static_cast<double>(dropped) / static_cast<double>(active);
      const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(active));
      EXPECT_NEAR(frac, p, 5 * sigma) << "dropout layer " << l << " model " << k;
    }
    // Models 0 and 1 have identical parameters and inputs but different seeds: different masks.
    EXPECT_FALSE(test::bitwise_equal(out.model(0), out.model(1))) << "dropout layer " << l;
  }
  // Noise: output - input ~ N(0, noise_stddev^2).
  for (std::size_t l = 0; l < noises.size(); ++l) {
    const Tensor in = tape.value(noises[l]->inputs[0]), out = tape.value(noises[l]->output);
    double sum = 0, sq = 0;
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const double e = out.value(i) - in.value(i);
      sum += e;
      sq += e * e;
    }
    const double n = static_cast<double>(in.numel());
    EXPECT_NEAR(std::sqrt(sq / n), spec.noise_stddev, spec.noise_stddev * (6 / std::sqrt(2 * n) + 0.01))
        << "noise layer " << l;
    EXPECT_NEAR(sum / n, 0.0, 6 * spec.noise_stddev / std::sqrt(n)) << "noise layer " << l;
  }
  EXPECT_FALSE(test::bitwise_equal(tape.value(f).model(0), tape.value(f).model(1)));
}

TEST_F(BioNetRandomness, TrainingPassesRepeatAtTheSameStepAndSeed) {
  auto logits = [&](const std::vector<std::int32_t>& seeds, std::int32_t step, bool train) {
    Tape tape(ctx_);
    const Var f = net_.forward(tape, tape.input(x_), make_rng(seeds, step, train));
    return tape.value(f).to_host();
  };
  const Tensor a = logits({1, 2}, 3, true), b = logits({1, 2}, 3, true);
  EXPECT_TRUE(test::bitwise_equal(a, b)) << "same seeds and step";
  EXPECT_FALSE(test::bitwise_equal(a, logits({1, 2}, 4, true))) << "a fresh draw each step";
  EXPECT_FALSE(test::bitwise_equal(a.model(0), a.model(1))) << "different seeds";
  const Tensor same = logits({7, 7}, 3, true);
  EXPECT_TRUE(test::bitwise_equal(same.model(0), same.model(1))) << "identical models with identical seeds";
}

TEST_F(BioNetRandomness, EvaluationIsDeterministicWithoutDropout) {
  Tape t1(ctx_), t2(ctx_);
  const Var f1 = net_.forward(t1, t1.input(x_), make_rng({1, 2}, 0, false));
  const Var f2 = net_.forward(t2, t2.input(x_), make_rng({8, 9}, 5, false));
  EXPECT_TRUE(nodes_of(t1, nn::OpKind::dropout).empty());
  EXPECT_TRUE(nodes_of(t1, nn::OpKind::gaussian_noise).empty());
  EXPECT_TRUE(test::bitwise_equal(t1.value(f1), t2.value(f2))) << "evaluation ignores the seeds and the step";
  EXPECT_TRUE(test::bitwise_equal(t1.value(f1).model(0), t1.value(f1).model(1)));
  const Tensor features = t1.value(t1.tagged("features"));
  for (std::int64_t i = 0; i < features.numel(); ++i) ASSERT_NE(features.value(i), 0.0) << "element " << i;
  // The logits equal the noise-free reference (no dropout, no noise).
  const Reference ref = reference_forward(net_, x_);
  EXPECT_TRUE(test::all_close(t1.value(f1), host_tensor({K, P, C}, DType::f32, ref.f), 1e-5, 1e-4));
}

// ---------------------------------------------------------------------------------------------
// Ensembles

TEST(BioNet, EnsembleMemberEqualsTheModelAlone) {
  Context ctx;
  const BioNetSpec spec = make_spec(9, 24, 10, 3);
  const std::vector<std::uint64_t> seeds = {10, 11, 12, 13};
  const std::vector<double> scales = {1.0, 0.5, 2.0, 1.5};
  const std::vector<std::int32_t> step_seeds = {21, 22, 23, 24};
  BioNet ensemble(ctx, spec, make_ensemble(seeds, DType::f32, scales));
  const Tensor x = test::random_tensor({15, 9}, DType::f32, 51, -1.0, 1.0, false);
  for (bool train : {true, false}) {
    Tape te(ctx);
    const Var fe = ensemble.forward(te, te.input(x), make_rng(step_seeds, 6, train));
    for (std::size_t k = 0; k < seeds.size(); ++k) {
      const auto kk = static_cast<std::int64_t>(k);
      BioNet alone(ctx, spec, make_ensemble({seeds[k]}, DType::f32, {scales[k]}));
      for (int p = 0; p < alone.params().size(); ++p) {
        EXPECT_TRUE(test::bitwise_equal(ensemble.params().value(p).model(kk), alone.params().value(p).model(0)))
            << "model " << k << " parameter " << alone.params().name(p);
      }
      Tape ta(ctx);
      const Var fa = alone.forward(ta, ta.input(x), make_rng({step_seeds[k]}, 6, train));
      EXPECT_TRUE(test::bitwise_equal(te.value(fe).model(kk), ta.value(fa).model(0)))
          << "model " << k << (train ? " training" : " evaluation");
      EXPECT_TRUE(
          test::bitwise_equal(te.value(te.tagged("features")).model(kk), ta.value(ta.tagged("features")).model(0)))
          << "model " << k;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Training

// A linearly separable problem: x [P, D] ~ N(0, 1); binary labels sign(x0 + x1), or for C
// classes the argmax of the first C features.
nn::TrainData separable_data(Context& ctx, std::int64_t p, std::int64_t d, std::int64_t c, std::uint64_t seed) {
  Tensor x = Tensor::host({p, d}, DType::f32);
  ops::random_normal(x, RngKey{seed, 1, 0}, 0, 1, ctx);
  Tensor labels = Tensor::host({p}, DType::i32);
  for (std::int64_t i = 0; i < p; ++i) {
    auto at = [&](std::int64_t j) { return static_cast<double>(x.flat<float>(i * d + j)); };
    std::int64_t best = 0;
    if (c == 1) {
      best = at(0) + at(1) > 0 ? 1 : 0;
    } else {
      for (std::int64_t j = 1; j < c; ++j) best = at(j) > at(best) ? j : best;
    }
    labels.flat<std::int32_t>(i) = static_cast<std::int32_t>(best);
  }
  return {x.to(ctx), labels.to(ctx), Tensor(), Tensor()};
}

class BioNetTraining : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(BioNetTraining, FullBatchSgdReducesTheLoss) {
  const std::int64_t classes = GetParam();
  Context ctx;
  const nn::TrainData data = separable_data(ctx, 64, 8, classes, 61);
  const BioNetSpec spec = make_spec(8, 48, 16, classes);  // default dropout, slope and noise
  const std::vector<std::uint64_t> seeds = {1, 2};
  BioNet net(ctx, spec, make_ensemble(seeds));
  nn::OptimizerSpec os;  // SGD, no weight decay
  os.lr = {1e-2};
  nn::Optimizer opt(net.params(), os);
  nn::TrainerSpec ts;
  ts.loss.kind = classes == 1 ? LossKind::logistic : LossKind::softmax_cross_entropy;
  ts.seeds = seeds;
  nn::Trainer trainer(net.params(), net.forward_fn(), opt, data, ts);
  trainer.run(1);
  const std::vector<float> first = trainer.loss().value.to_vector<float>();
  const Var features = trainer.tape().tagged("features");
  ASSERT_TRUE(features.defined());
  EXPECT_EQ(trainer.tape().value(features).shape(), (Shape{2, 64, 16}));
  trainer.run(400);
  const std::vector<float> last = trainer.loss().value.to_vector<float>();
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    EXPECT_LT(last[k], 0.7f * first[k]) << "model " << k << ": " << first[k] << " -> " << last[k];
  }
  const std::vector<float> values = net.params().flat_values().to_vector<float>();
  for (std::size_t i = 0; i < values.size(); ++i) ASSERT_TRUE(std::isfinite(values[i])) << "parameter element " << i;
}

INSTANTIATE_TEST_SUITE_P(BioNet, BioNetTraining, ::testing::Values(1, 3), [](const auto& param_info) {
  return param_info.param == 1 ? std::string("logistic") : std::string("cross_entropy");
});

// ---------------------------------------------------------------------------------------------
// Spec errors

TEST(BioNet, SpecErrorsNameTheField) {
  Context ctx;
  struct Case {
    void (*mutate)(BioNetSpec&, nn::EnsembleSpec&);
    const char* message;
  };
  const Case cases[] = {
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.input_dim = 0; }, "bionet: input_dim must be >= 1, got 0"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.width = -3; }, "bionet: width must be >= 1, got -3"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.narrow = 0; }, "bionet: narrow must be >= 1, got 0"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.output_dim = 0; }, "bionet: output_dim must be >= 1, got 0"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.dropout1 = 1.0; }, "bionet: dropout1 must lie in [0, 1), got 1"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.dropout2 = -0.1; }, "bionet: dropout2 must lie in [0, 1), got -0.1"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.slope = NAN; }, "bionet: slope must be finite"},
      {[](BioNetSpec& s, nn::EnsembleSpec&) { s.noise_stddev = -1; }, "bionet: noise_stddev must be finite and >= 0"},
      {[](BioNetSpec&, nn::EnsembleSpec& e) { e.models = 0; }, "bionet: models must be >= 1, got 0"},
      {[](BioNetSpec&, nn::EnsembleSpec& e) {
         e.seeds = {1, 2, 3};
       },
       "seeds: 3 values for 2 models"},
  };
  for (const Case& c : cases) {
    BioNetSpec spec = make_spec(4, 8, 3, 1);
    nn::EnsembleSpec ens = make_ensemble({1, 2});
    c.mutate(spec, ens);
    try {
      BioNet net(ctx, spec, ens);
      ADD_FAILURE() << "no error for: " << c.message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace groove
