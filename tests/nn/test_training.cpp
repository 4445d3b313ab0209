// Training: long-run fidelity of the precision modes, determinism, ensemble independence,
// replay == eager, minibatch order, NPZ import/export, and the "biologically plausible" variant of
// SCIENCE.md built from parts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nn/trainer.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

// A small classification problem: x [P, D] ~ N(0, 1), labels from the sign of x0 + x1 (binary)
// or the argmax of the first C features.
nn::TrainData make_data(Context& ctx, std::int64_t p, std::int64_t d, std::int64_t c, DType dt, std::uint64_t seed) {
  Tensor x = Tensor::host({p, d}, dt);
  ops::random_normal(x, RngKey{seed, 1, 0}, 0, 1, ctx);
  Tensor labels = Tensor::host({p}, DType::i32);
  for (std::int64_t i = 0; i < p; ++i) {
    auto at = [&](std::int64_t j) {
      return dt == DType::f32 ? double(x.flat<float>(i * d + j)) : x.flat<double>(i * d + j);
    };
    if (c == 1) {
      labels.flat<std::int32_t>(i) = at(0) + at(1) > 0 ? 1 : 0;
    } else {
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < c; ++j) best = at(j) > at(best) ? j : best;
      labels.flat<std::int32_t>(i) = static_cast<std::int32_t>(best);
    }
  }
  return {x.to(ctx), labels.to(ctx), Tensor(), Tensor()};
}

struct TrainRun {
  std::unique_ptr<nn::Mlp> mlp;
  std::unique_ptr<nn::Optimizer> opt;
  std::unique_ptr<nn::Trainer> trainer;
};

// An MLP with dropout and noise, trained by Adam on minibatches: every source of randomness on.
TrainRun make_run(Context& ctx, const nn::TrainData& data, const std::vector<std::uint64_t>& seeds,
                  const std::vector<double>& lr, bool replay = true, std::int64_t batch = 16) {
  nn::MlpSpec spec;
  spec.input_dim = data.x.dim(1);
  spec.hidden = {24, 12};
  spec.output_dim = 3;
  spec.activation = Activation::tanh;
  spec.dropout = 0.2;
  spec.noise_stddev = 0.05;
  nn::EnsembleSpec ens;
  ens.models = static_cast<std::int64_t>(seeds.size());
  ens.seeds = seeds;
  TrainRun r;
  r.mlp = std::make_unique<nn::Mlp>(ctx, spec, ens);
  nn::OptimizerSpec os;
  os.hyper.kind = OptimizerKind::adam;
  os.lr = lr;
  os.weight_decay = {1e-3};
  r.opt = std::make_unique<nn::Optimizer>(r.mlp->params(), os);
  nn::TrainerSpec ts;
  ts.batch_size = batch;
  ts.seeds = seeds;
  ts.replay = replay;
  r.trainer = std::make_unique<nn::Trainer>(r.mlp->params(), r.mlp->forward_fn(), *r.opt, data, ts);
  return r;
}

TEST(Training, LossDecreasesAndHooksRunAtTheirSteps) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 96, 8, 3, DType::f32, 1);
  TrainRun r = make_run(ctx, data, {7}, {0.01});
  std::vector<std::int64_t> hook_steps;
  std::vector<float> losses;
  r.trainer->run(300, 100, [&](std::int64_t s) {
    hook_steps.push_back(s);
    losses.push_back(r.trainer->loss().value.to_vector<float>()[0]);
  });
  EXPECT_EQ(hook_steps, (std::vector<std::int64_t>{100, 200, 300}));
  EXPECT_EQ(r.trainer->steps_done(), 300);
  EXPECT_EQ(r.trainer->step_counter().to_vector<std::int32_t>()[0], 300);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

TEST(Training, NoAllocationInTheSteadyState) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 64, 6, 3, DType::f32, 9);
  TrainRun r = make_run(ctx, data, {1, 2}, {0.01});
  r.trainer->run(2);
  const AllocatorStats before = HostAllocator::shared()->stats();
  r.trainer->run(100);
  EXPECT_EQ(HostAllocator::shared()->stats().n_allocations, before.n_allocations);
}

TEST(Training, DeterministicAcrossRuns) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 64, 6, 3, DType::f32, 2);
  TrainRun a = make_run(ctx, data, {1, 2}, {0.01, 0.02}), b = make_run(ctx, data, {1, 2}, {0.01, 0.02});
  a.trainer->run(150);
  b.trainer->run(150);
  EXPECT_TRUE(test::bitwise_equal(a.mlp->params().flat_values(), b.mlp->params().flat_values()));
}

TEST(Training, ReplayEqualsEagerRecording) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 64, 6, 3, DType::f32, 3);
  TrainRun replay = make_run(ctx, data, {4}, {0.01}, true), eager = make_run(ctx, data, {4}, {0.01}, false);
  replay.trainer->run(60);
  eager.trainer->run(60);
  EXPECT_TRUE(test::bitwise_equal(replay.mlp->params().flat_values(), eager.mlp->params().flat_values()));
}

TEST(Training, EnsembleMemberEqualsTheModelTrainedAlone) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 80, 7, 3, DType::f32, 4);
  const std::vector<std::uint64_t> seeds = {11, 22, 33};
  const std::vector<double> lrs = {0.01, 0.003, 0.02};
  TrainRun ensemble = make_run(ctx, data, seeds, lrs);
  ensemble.trainer->run(120);
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    TrainRun alone = make_run(ctx, data, {seeds[k]}, {lrs[k]});
    alone.trainer->run(120);
    for (int p = 0; p < alone.mlp->params().size(); ++p) {
      EXPECT_TRUE(test::bitwise_equal(ensemble.mlp->params().value(p).model(static_cast<std::int64_t>(k)),
                                      alone.mlp->params().value(p).model(0)))
          << "model " << k << " parameter " << alone.mlp->params().name(p);
    }
  }
}

TEST(Training, MinibatchesWalkAPermutationPerEpochAndModel) {
  Context ctx;
  const std::int64_t n = 50, batch = 10, models = 2;
  Tensor seeds = Tensor::from_vector<std::int32_t>({models}, {5, 6});
  Tensor index = Tensor::host({models, batch}, DType::i32);
  std::vector<std::vector<int>> epoch0(models), epoch1(models);
  for (std::int32_t step = 0; step < 10; ++step) {
    Tensor s = Tensor::from_vector<std::int32_t>({1}, {step});
    ops::minibatch_indices(index, n, seeds, 1, s, ctx);
    for (std::int64_t k = 0; k < models; ++k) {
      for (std::int64_t j = 0; j < batch; ++j) {
        (step < 5 ? epoch0 : epoch1)[static_cast<std::size_t>(k)].push_back(index.flat<std::int32_t>(k * batch + j));
      }
    }
  }
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (std::int64_t k = 0; k < models; ++k) {
    for (auto* e : {&epoch0, &epoch1}) {
      std::vector<int> sorted = (*e)[static_cast<std::size_t>(k)];
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, all) << "model " << k;  // every example exactly once per epoch
    }
    EXPECT_NE(epoch0[static_cast<std::size_t>(k)], epoch1[static_cast<std::size_t>(k)]);  // reshuffled
  }
  EXPECT_NE(epoch0[0], epoch0[1]);  // models draw independently
}

// Logistic regression on separable data in the late, tiny-loss regime a very long run reaches
// (weights of norm 37, every margin > 30, loss ~ 1e-14): each gradient step is far below half an
// ulp of the fp32 weights, so plain fp32 stops changing them, while fp32-kahan and fp64 keep
// increasing the normalized margin (the implicit bias towards the max-margin direction).
TEST(LongRun, Fp32StallsWhileKahanAndFp64KeepIncreasingTheMargin) {
  Context ctx;
  const std::vector<double> xs = {1.0, 0.3, 0.8, -0.5, -1.0, -0.2, -0.7, 0.6};
  const std::vector<std::int32_t> ys = {1, 1, 0, 0};
  auto normalized_margin = [&](const Tensor& w) {
    const double w0 = w.dtype() == DType::f32 ? w.flat<float>(0) : w.flat<double>(0);
    const double w1 = w.dtype() == DType::f32 ? w.flat<float>(1) : w.flat<double>(1);
    double m = INFINITY;
    for (int i = 0; i < 4; ++i) m = std::min(m, (ys[i] ? 1 : -1) * (w0 * xs[2 * i] + w1 * xs[2 * i + 1]));
    return m / std::hypot(w0, w1);
  };
  double gain[3] = {};
  for (Precision prec : {Precision::fp32, Precision::fp32_kahan, Precision::fp64}) {
    const DType dt = nn::dtype_for(prec);
    Tensor x = Tensor::host({4, 2}, dt);
    for (int i = 0; i < 8; ++i) {
      if (dt == DType::f32)
        x.flat<float>(i) = static_cast<float>(xs[static_cast<std::size_t>(i)]);
      else
        x.flat<double>(i) = xs[static_cast<std::size_t>(i)];
    }
    nn::MlpSpec spec;
    spec.input_dim = 2;
    spec.output_dim = 1;
    spec.bias = false;
    nn::EnsembleSpec ens;
    ens.dtype = dt;
    nn::Mlp model(ctx, spec, ens);
    Tensor w = model.params().value(0);
    if (dt == DType::f32) {
      w.flat<float>(0) = 36;
      w.flat<float>(1) = -9;
    } else {
      w.flat<double>(0) = 36;
      w.flat<double>(1) = -9;
    }
    nn::OptimizerSpec os;
    os.precision = prec;
    os.lr = {1e5};
    nn::Optimizer opt(model.params(), os);
    nn::TrainerSpec ts;
    ts.loss.kind = LossKind::logistic;
    nn::Trainer trainer(model.params(), model.forward_fn(), opt,
                        {x, Tensor::from_vector<std::int32_t>({4}, ys), {}, {}}, ts);
    trainer.run(1000);
    const Tensor before = w.to_host();
    const double margin_before = normalized_margin(before);
    trainer.run(8000);
    const double loss = trainer.loss().value.dtype() == DType::f32 ? trainer.loss().value.flat<float>(0)
                                                                   : trainer.loss().value.flat<double>(0);
    EXPECT_GT(loss, 0.0);  // the gradient is not zero...
    EXPECT_LT(loss, 1e-12);
    const double g0 = dt == DType::f32 ? model.params().grad(0).flat<float>(0) : model.params().grad(0).flat<double>(0);
    EXPECT_NE(g0, 0.0);
    gain[static_cast<int>(prec)] = normalized_margin(w) - margin_before;
    if (prec == Precision::fp32) {
      EXPECT_TRUE(test::bitwise_equal(w, before)) << "plain fp32 should have stalled";  // ...but fp32 ignores it
    }
  }
  EXPECT_EQ(gain[0], 0.0);
  EXPECT_GT(gain[1], 1e-8);  // kahan: the margin keeps growing
  EXPECT_GT(gain[2], 1e-8);  // fp64 too
  // By about as much (the Kahan weights are read without their compensation, so the margin seen
  // through fp32 weights moves in ulp-sized jumps).
  EXPECT_GT(gain[1], 0.5 * gain[2]);
  EXPECT_LT(gain[1], 2.0 * gain[2]);
}

TEST(Params, NpzRoundTripAndSharedImport) {
  Context ctx;
  test::TempDir dir;
  nn::MlpSpec spec;
  spec.input_dim = 3;
  spec.hidden = {4};
  spec.output_dim = 2;
  nn::EnsembleSpec ens;
  ens.models = 2;
  ens.seeds = {1, 2};
  nn::Mlp a(ctx, spec, ens);
  a.params().save_npz(dir.file("init.npz"));
  const auto arrays = read_npz(dir.file("init.npz"));
  ASSERT_EQ(arrays.size(), 4u);
  EXPECT_EQ(arrays[0].name, "layer0.weight");
  EXPECT_EQ(arrays[0].tensor.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(arrays[3].name, "layer1.bias");
  ens.seeds = {9, 9};
  nn::Mlp b(ctx, spec, ens);
  EXPECT_FALSE(test::bitwise_equal(a.params().flat_values(), b.params().flat_values()));
  b.params().load_npz(dir.file("init.npz"));
  EXPECT_TRUE(test::bitwise_equal(a.params().flat_values(), b.params().flat_values()));
  // One model's weights (no K dimension) are given to every model.
  std::vector<NamedTensor> shared;
  for (const NamedTensor& t : arrays) shared.push_back({t.name, t.tensor.model(1)});
  write_npz(dir.file("shared.npz"), shared);
  b.params().load_npz(dir.file("shared.npz"));
  EXPECT_TRUE(test::bitwise_equal(b.params().value(0).model(0), a.params().value(0).model(1)));
  EXPECT_TRUE(test::bitwise_equal(b.params().value(0).model(1), a.params().value(0).model(1)));
  // Errors name the file and the array.
  write_npz(dir.file("bad.npz"), {{"layer0.weight", Tensor::host({5, 5}, DType::f32)}});
  try {
    b.params().load_npz(dir.file("bad.npz"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'layer0.weight' has shape [5, 5]"), std::string::npos) << e.what();
  }
}

TEST(Mlp, InitializationFollowsTheParameterization) {
  Context ctx;
  for (auto param : {nn::Parameterization::standard, nn::Parameterization::ntk, nn::Parameterization::mean_field}) {
    nn::MlpSpec spec;
    spec.input_dim = 400;
    spec.hidden = {300};
    spec.output_dim = 1;
    spec.parameterization = param;
    nn::EnsembleSpec ens;
    ens.init_scale = {2.0};
    nn::Mlp mlp(ctx, spec, ens);
    const Tensor w = mlp.params().value(0);
    double var = 0;
    for (std::int64_t i = 0; i < w.numel(); ++i) var += double(w.flat<float>(i)) * w.flat<float>(i);
    var /= static_cast<double>(w.numel());
    const double expected = param == nn::Parameterization::standard ? 4.0 / 400 : 4.0;
    EXPECT_NEAR(var / expected, 1.0, 0.02) << nn::kParameterizationNames[int(param)];
    EXPECT_EQ(mlp.params().value(1).to_vector<float>(), std::vector<float>(300, 0.f));  // zero biases
  }
}

// SCIENCE.md's "biologically plausible" variant from parts: wide ReLU layer + dropout 0.2 ->
// associative layer with a parallel Linear->ReLU path added back through a skip connection ->
// narrower LeakyReLU layer + dropout 0.3 -> scalar readout; Gaussian noise in the forward pass.
TEST(Composition, BiologicallyPlausibleVariantTrains) {
  Context ctx;
  const nn::TrainData data = make_data(ctx, 64, 10, 1, DType::f32, 6);
  const std::int64_t wide = 32, narrow = 8;
  nn::ParamStore ps(ctx, 2, DType::f32);
  const int w_in = ps.add("input.weight", {wide, 10}), b_in = ps.add("input.bias", {wide});
  const int w_assoc = ps.add("assoc.weight", {wide, wide}), w_fb = ps.add("feedback.weight", {wide, wide});
  const int w_narrow = ps.add("narrow.weight", {narrow, wide}), w_out = ps.add("readout.weight", {1, narrow});
  ps.finalize();
  for (int p : {w_in, w_assoc, w_fb, w_narrow, w_out}) {
    for (std::int64_t k = 0; k < 2; ++k) {
      Tensor wk = ps.value(p).model(k);
      ops::random_normal(wk, RngKey{static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(p), 0}, 0,
                         1 / std::sqrt(double(wk.dim(1))), ctx);
    }
  }
  const nn::ForwardFn forward = [&](Tape& t, Var x, const nn::RngRef& rng) {
    nn::RngRef r = rng;
    Var h = nn::activation(t, nn::linear(t, x, ps.bind(t, w_in), ps.bind(t, b_in)), Activation::relu);
    r.stream = rng.stream + 1;
    h = nn::dropout(t, h, 0.2, r);
    r.stream = rng.stream + 2;
    h = nn::gaussian_noise(t, h, 0.05, r);
    const Var assoc = nn::linear(t, h, ps.bind(t, w_assoc), Var{});
    const Var feedback = nn::activation(t, nn::linear(t, h, ps.bind(t, w_fb), Var{}), Activation::relu);
    h = nn::activation(t, nn::add(t, assoc, feedback), Activation::relu);
    h = nn::activation(t, nn::linear(t, h, ps.bind(t, w_narrow), Var{}), Activation::leaky_relu, 0.01);
    r.stream = rng.stream + 3;
    h = nn::dropout(t, h, 0.3, r);
    return nn::linear(t, h, ps.bind(t, w_out), Var{});
  };
  nn::OptimizerSpec os;
  os.lr = {1e-2};
  nn::Optimizer opt(ps, os);
  nn::TrainerSpec ts;
  ts.loss.kind = LossKind::logistic;
  ts.seeds = {1, 2};
  nn::Trainer trainer(ps, forward, opt, data, ts);
  trainer.run(1);
  const std::vector<float> first = trainer.loss().value.to_vector<float>();
  trainer.run(400);
  const std::vector<float> last = trainer.loss().value.to_vector<float>();
  for (int k = 0; k < 2; ++k) EXPECT_LT(last[static_cast<std::size_t>(k)], 0.7f * first[static_cast<std::size_t>(k)]);
}

}  // namespace
}  // namespace groove
