// Optimizers: every kind against an independent double-precision reference over several steps
// (per-model lr and weight decay, two parameter tensors), schedules at known points, and the
// precision modes (Kahan keeps updates far below the ulp that plain fp32 drops).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "nn/optimizer.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

// Reference written from the textbook / PyTorch definitions (not from optim_math.h).
struct Reference {
  OptimizerHyper h;
  std::vector<double> p, m, v;
  void step(const std::vector<double>& g, const std::vector<double>& lr, const std::vector<double>& wd,
            const std::vector<int>& model, int t) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double eta = lr[static_cast<std::size_t>(model[i])], lam = wd[static_cast<std::size_t>(model[i])];
      double grad = g[i];
      switch (h.kind) {
        case OptimizerKind::sgd:
          p[i] -= eta * (grad + lam * p[i]);
          break;
        case OptimizerKind::momentum:
        case OptimizerKind::nesterov: {
          grad += lam * p[i];
          m[i] = h.momentum * m[i] + grad;  // torch.optim.SGD, dampening 0
          p[i] -= eta * (h.kind == OptimizerKind::nesterov ? grad + h.momentum * m[i] : m[i]);
          break;
        }
        case OptimizerKind::adam:
        case OptimizerKind::adamw: {
          if (h.kind == OptimizerKind::adamw)
            p[i] *= 1 - eta * lam;  // decoupled decay first (torch.optim.AdamW)
          else
            grad += lam * p[i];
          m[i] = h.beta1 * m[i] + (1 - h.beta1) * grad;
          v[i] = h.beta2 * v[i] + (1 - h.beta2) * grad * grad;
          const double bc1 = 1 - std::pow(h.beta1, t + 1), bc2 = 1 - std::pow(h.beta2, t + 1);
          p[i] -= eta / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + h.eps);
          break;
        }
      }
    }
  }
};

class OptimizerKinds : public ::testing::TestWithParam<OptimizerKind> {};

TEST_P(OptimizerKinds, MatchesReferenceOverTenSteps) {
  Context ctx;
  const std::int64_t k = 2;
  nn::ParamStore ps(ctx, k, DType::f64);
  ps.add("a", {3});
  ps.add("b", {2, 2});
  ps.finalize();
  const std::int64_t n = ps.flat_values().numel();  // 2*3 + 2*4 = 14
  std::vector<int> model(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) model[static_cast<std::size_t>(i)] = i < 6 ? int(i / 3) : int((i - 6) / 4);
  Tensor init = test::random_tensor({n}, DType::f64, 1);
  ps.flat_values().copy_from(init, ctx);
  nn::OptimizerSpec spec;
  spec.hyper.kind = GetParam();
  spec.precision = Precision::fp64;
  spec.lr = {0.1, 0.03};
  spec.weight_decay = {0.01, 0.2};
  nn::Optimizer opt(ps, spec);
  Reference ref{spec.hyper, init.to_vector<double>(), std::vector<double>(static_cast<std::size_t>(n)),
                std::vector<double>(static_cast<std::size_t>(n))};
  Tensor step = Tensor::zeros({1}, DType::i32, ctx);
  for (int t = 0; t < 10; ++t) {
    Tensor g = test::random_tensor({n}, DType::f64, 100 + static_cast<std::uint64_t>(t));
    ps.flat_grads().copy_from(g, ctx);
    opt.update(step);
    ops::increment_counter(step, ctx);
    ref.step(g.to_vector<double>(), spec.lr, spec.weight_decay, model, t);
  }
  EXPECT_EQ(step.flat<std::int32_t>(0), 10);
  EXPECT_TRUE(test::all_close(ps.flat_values(), Tensor::from_vector<double>({n}, ref.p), 1e-13, 1e-12));
}

INSTANTIATE_TEST_SUITE_P(All, OptimizerKinds,
                         ::testing::Values(OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov,
                                           OptimizerKind::adam, OptimizerKind::adamw),
                         [](const auto& param_info) { return std::string(kOptimizerNames[int(param_info.param)]); });

TEST(Schedules, FactorsAtKnownSteps) {
  Schedule s;
  EXPECT_EQ(optim_math::schedule_factor(s, 123), 1.0);
  s.warmup_steps = 4;
  EXPECT_EQ(optim_math::schedule_factor(s, 0), 0.25);
  EXPECT_EQ(optim_math::schedule_factor(s, 3), 1.0);
  s.kind = ScheduleKind::step;
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_EQ(optim_math::schedule_factor(s, 4 + 9), 1.0);
  EXPECT_EQ(optim_math::schedule_factor(s, 4 + 10), 0.5);
  EXPECT_EQ(optim_math::schedule_factor(s, 4 + 25), 0.25);
  s.kind = ScheduleKind::cosine;
  s.total_steps = 104;
  s.min_factor = 0.1;
  EXPECT_DOUBLE_EQ(optim_math::schedule_factor(s, 4), 1.0);
  EXPECT_DOUBLE_EQ(optim_math::schedule_factor(s, 54), 0.55);  // halfway: min + (1 - min) / 2
  EXPECT_DOUBLE_EQ(optim_math::schedule_factor(s, 104), 0.1);
  EXPECT_DOUBLE_EQ(optim_math::schedule_factor(s, 1000), 0.1);
}

TEST(Schedules, DriveTheLearningRateOnTheDevice) {
  Context ctx;
  nn::ParamStore ps(ctx, 1, DType::f64);
  ps.add("w", {1});
  ps.finalize();
  nn::OptimizerSpec spec;
  spec.precision = Precision::fp64;
  spec.lr = {1.0};
  spec.hyper.schedule.kind = ScheduleKind::step;
  spec.hyper.schedule.step_size = 2;
  spec.hyper.schedule.gamma = 0.5;
  nn::Optimizer opt(ps, spec);
  ops::fill(ps.flat_grads(), -1.0, ctx);  // each step adds lr * factor
  Tensor step = Tensor::zeros({1}, DType::i32, ctx);
  for (int t = 0; t < 5; ++t) {
    opt.update(step);
    ops::increment_counter(step, ctx);
  }
  EXPECT_DOUBLE_EQ(ps.flat_values().flat<double>(0), 1 + 1 + 0.5 + 0.5 + 0.25);
}

TEST(Precision, KahanKeepsUpdatesBelowTheUlpThatFp32Drops) {
  Context ctx;
  double final_value[2] = {};
  for (Precision prec : {Precision::fp32, Precision::fp32_kahan}) {
    nn::ParamStore ps(ctx, 1, DType::f32);
    ps.add("w", {1});
    ps.finalize();
    ops::fill(ps.flat_values(), 1.0, ctx);
    ops::fill(ps.flat_grads(), -1.0, ctx);
    nn::OptimizerSpec spec;
    spec.precision = prec;
    spec.lr = {2e-8};  // ulp(1.0f) / 2 = 6e-8: each plain fp32 update rounds away
    nn::Optimizer opt(ps, spec);
    Tensor step = Tensor::zeros({1}, DType::i32, ctx);
    for (int t = 0; t < 10000; ++t) opt.update(step);
    final_value[prec == Precision::fp32_kahan] = ps.flat_values().flat<float>(0);
  }
  EXPECT_EQ(final_value[0], 1.0);                 // plain fp32 stalled
  EXPECT_NEAR(final_value[1], 1.0 + 2e-4, 2e-7);  // Kahan accumulated every update
}

TEST(Optimizer, ConfigurationErrors) {
  Context ctx;
  nn::ParamStore ps(ctx, 2, DType::f32);
  ps.add("w", {3});
  ps.finalize();
  nn::OptimizerSpec spec;
  spec.precision = Precision::fp64;
  EXPECT_THROW(nn::Optimizer(ps, spec), Error);  // fp64 needs f64 parameters
  spec.precision = Precision::fp32;
  spec.lr = {0.1, 0.2, 0.3};
  EXPECT_THROW(nn::Optimizer(ps, spec), Error);  // 3 learning rates for 2 models
  spec.lr = {-1};
  EXPECT_THROW(nn::Optimizer(ps, spec), Error);
  EXPECT_EQ(nn::parse_optimizer("adamw"), OptimizerKind::adamw);
  EXPECT_EQ(nn::parse_precision("fp32-kahan"), Precision::fp32_kahan);
  EXPECT_THROW(nn::parse_optimizer("lbfgs"), Error);
}

}  // namespace
}  // namespace groove
