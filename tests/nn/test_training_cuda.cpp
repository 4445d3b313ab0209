// Training on CUDA: trajectories against the CPU over 100 steps, determinism and ensemble
// independence (bitwise), and graph replay (several steps per graph) against plain replay.
// Skipped with a message when no GPU is present.
#include <gtest/gtest.h>

#include "nn/trainer.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using test::GpuTest;

struct Model {
  std::unique_ptr<nn::Mlp> mlp;
  std::unique_ptr<nn::Optimizer> opt;
  std::unique_ptr<nn::Trainer> trainer;
};

Model make(Context& ctx, DType dt, const std::vector<std::uint64_t>& seeds, int steps_per_graph = 1,
           std::int64_t batch = 16) {
  const std::int64_t p = 64, d = 9;
  Tensor x = Tensor::host({p, d}, dt);
  Context host;
  ops::random_normal(x, RngKey{3, 1, 0}, 0, 1, host);
  Tensor labels = test::random_indices({p}, 3, 4);
  nn::MlpSpec spec;
  spec.input_dim = d;
  spec.hidden = {20, 10};
  spec.output_dim = 3;
  spec.activation = Activation::gelu;
  spec.dropout = 0.1;
  spec.noise_stddev = 0.02;
  spec.parameterization = nn::Parameterization::mean_field;
  nn::EnsembleSpec ens;
  ens.models = static_cast<std::int64_t>(seeds.size());
  ens.seeds = seeds;
  ens.dtype = dt;
  ens.gamma = {0.7};
  Model s;
  s.mlp = std::make_unique<nn::Mlp>(ctx, spec, ens);
  nn::OptimizerSpec os;
  os.hyper.kind = OptimizerKind::adam;
  os.precision = dt == DType::f64 ? Precision::fp64 : Precision::fp32;
  os.lr = {0.01};
  s.opt = std::make_unique<nn::Optimizer>(s.mlp->params(), os);
  nn::TrainerSpec ts;
  ts.batch_size = batch;
  ts.seeds = seeds;
  ts.steps_per_graph = steps_per_graph;
  s.trainer = std::make_unique<nn::Trainer>(s.mlp->params(), s.mlp->forward_fn(), *s.opt,
                                            nn::TrainData{x.to(ctx), labels.to(ctx), {}, {}}, ts);
  return s;
}

class TrainingCuda : public GpuTest {};

TEST_F(TrainingCuda, TrajectoryMatchesTheCpuOver100Steps) {
  for (DType dt : {DType::f64, DType::f32}) {
    Model c = make(*cpu, dt, {1, 2}), g = make(*gpu, dt, {1, 2});
    c.trainer->run(100);
    g.trainer->run(100);
    const double rtol = dt == DType::f64 ? 1e-9 : 2e-3, atol = dt == DType::f64 ? 1e-11 : 1e-4;
    EXPECT_TRUE(test::all_close(g.mlp->params().flat_values(), c.mlp->params().flat_values(), atol, rtol))
        << dtype_name(dt);
    EXPECT_TRUE(test::all_close(g.trainer->loss().value, c.trainer->loss().value, atol, rtol));
  }
}

TEST_F(TrainingCuda, DeterministicAndEnsembleIndependent) {
  Model a = make(*gpu, DType::f32, {5, 6, 7}), b = make(*gpu, DType::f32, {5, 6, 7});
  a.trainer->run(50);
  b.trainer->run(50);
  EXPECT_TRUE(test::bitwise_equal(a.mlp->params().flat_values(), b.mlp->params().flat_values()));
  Model alone = make(*gpu, DType::f32, {6});
  alone.trainer->run(50);
  for (int p = 0; p < alone.mlp->params().size(); ++p) {
    EXPECT_TRUE(test::bitwise_equal(a.mlp->params().value(p).model(1), alone.mlp->params().value(p).model(0)))
        << alone.mlp->params().name(p);
  }
}

TEST_F(TrainingCuda, GraphsOfSeveralStepsEqualSingleSteps) {
  Model one = make(*gpu, DType::f32, {9}, 1), four = make(*gpu, DType::f32, {9}, 4);
  one.trainer->run(41);
  four.trainer->run(41);  // 1 recorded step, 10 graph launches of 4 steps
  EXPECT_TRUE(test::bitwise_equal(one.mlp->params().flat_values(), four.mlp->params().flat_values()));
  EXPECT_EQ(four.trainer->step_counter().to_vector<std::int32_t>()[0], 41);
}

TEST_F(TrainingCuda, CachingAllocatorIsIdleInTheSteadyState) {
  Model s = make(*gpu, DType::f32, {1, 2, 3, 4});
  s.trainer->run(3);
  const AllocatorStats before = gpu->allocator().stats();
  s.trainer->run(200);
  const AllocatorStats after = gpu->allocator().stats();
  EXPECT_EQ(after.n_allocations, before.n_allocations);
}

}  // namespace
}  // namespace groove
