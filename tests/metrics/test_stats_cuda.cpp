// The per-step statistics kernels on CUDA against their CPU twins on random (never zero) inputs,
// and a whole monitored run on CUDA (captured step graphs, asynchronous drains) against the CPU.
// Skipped with a message when no GPU is present.
#include <gtest/gtest.h>

#include "kernels/stats_ops.h"
#include "metrics/monitor.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using test::GpuTest;

class StatsCuda : public GpuTest {};

TEST_F(StatsCuda, MarginsMeansDistancesNorms) {
  int seed = 300;
  for (DType dt : {DType::f32, DType::f64}) {
    for (auto [k, n, d, c] : {std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>{1, 1, 1, 1},
                              {3, 37, 19, 3},
                              {2, 300, 257, 2},
                              {5, 513, 1024, 10}}) {
      const std::int64_t classes = std::max<std::int64_t>(2, c);
      Tensor logits = test::random_tensor({k, n, c}, dt, ++seed);
      Tensor labels = test::random_indices({n}, static_cast<std::int32_t>(c == 1 ? 2 : c), ++seed);
      Tensor m_cpu = Tensor::empty({k, n}, DType::f64, *cpu), m_gpu = Tensor::empty({k, n}, DType::f64, *gpu);
      ops::margins(m_cpu, logits, labels, *cpu);
      ops::margins(m_gpu, logits.to(*gpu), labels.to(*gpu), *gpu);
      EXPECT_TRUE(test::bitwise_equal(m_gpu.to_host(), m_cpu));

      Tensor h = test::random_tensor({k, n, d}, dt, ++seed);
      Tensor cls = test::random_indices({n}, static_cast<std::int32_t>(classes), ++seed);
      Tensor mu_cpu = Tensor::empty({k, classes, d}, dt, *cpu), mu_gpu = Tensor::empty({k, classes, d}, dt, *gpu);
      ops::class_means(mu_cpu, h, cls, *cpu);
      ops::class_means(mu_gpu, h.to(*gpu), cls.to(*gpu), *gpu);
      EXPECT_TRUE(test::all_close(mu_gpu.to_host(), mu_cpu, 1e-12, 1e-12));
      Tensor d_cpu = Tensor::empty({k, n, classes}, DType::f64, *cpu);
      Tensor d_gpu = Tensor::empty({k, n, classes}, DType::f64, *gpu);
      ops::sq_distances(d_cpu, h, mu_cpu, *cpu);
      ops::sq_distances(d_gpu, h.to(*gpu), mu_cpu.to(*gpu), *gpu);
      EXPECT_TRUE(test::all_close(d_gpu.to_host(), d_cpu, 1e-12, 1e-12));
    }
    // Parameter norms over three segments.
    ops::ParamSegments all;
    all.models = 4;
    all.count = 3;
    const std::int64_t per[3] = {1000, 7, 33};
    std::int64_t offset = 0;
    for (int s = 0; s < 3; ++s) {
      all.offset[s] = offset;
      all.per_model[s] = per[s];
      offset += 4 * per[s];
    }
    ops::ParamSegments w = all;
    w.count = 2;
    w.offset[1] = all.offset[2];
    w.per_model[1] = all.per_model[2];
    Tensor v = test::random_tensor({offset}, dt, ++seed), v0 = test::random_tensor({offset}, dt, ++seed);
    Tensor g = test::random_tensor({offset}, dt, ++seed);
    Tensor o_cpu = Tensor::empty({4, 7}, DType::f64, *cpu), o_gpu = Tensor::empty({4, 7}, DType::f64, *gpu);
    ops::param_norms(o_cpu, v, v0, g, w, all, *cpu);
    ops::param_norms(o_gpu, v.to(*gpu), v0.to(*gpu), g.to(*gpu), w, all, *gpu);
    EXPECT_TRUE(test::all_close(o_gpu.to_host(), o_cpu, 1e-12, 1e-12));
    // PGD step.
    Tensor delta = test::random_tensor({1001}, dt, ++seed, 0.0, 0.2), grad = test::random_tensor({1001}, dt, ++seed);
    Tensor delta_gpu = delta.to(*gpu);
    ops::pgd_step(delta, grad, 0.03, 0.1, *cpu);
    ops::pgd_step(delta_gpu, grad.to(*gpu), 0.03, 0.1, *gpu);
    EXPECT_TRUE(test::bitwise_equal(delta_gpu.to_host(), delta));
  }
}

TEST_F(StatsCuda, StepSummary) {
  int seed = 400;
  for (auto [k, p, q, c, groups] :
       {std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, int>{1, 1, 0, 2, 0},
        {3, 37, 11, 3, 2},
        {2, 513, 300, 2, 4},
        {70, 64, 5, 10, 1}}) {
    const std::int64_t n = 9, layers = 2, ring = 3, every = 2;
    ops::StepSummaryInputs in;
    in.train_margins = test::random_tensor({k, p}, DType::f64, ++seed);
    in.train_classes = test::random_indices({p}, static_cast<std::int32_t>(c), ++seed);
    in.train_loss = test::random_tensor({k}, DType::f32, ++seed, 0.1, 1, false);
    in.train_log10_loss = test::random_tensor({k}, DType::f32, ++seed);
    in.train_dist = test::random_tensor({k, p, c}, DType::f64, ++seed, 0.1, 2, false);
    in.means = test::random_tensor({k, c, n}, DType::f32, ++seed);
    if (q > 0) {
      in.heldout_margins = test::random_tensor({k, q}, DType::f64, ++seed);
      in.heldout_classes = test::random_indices({q}, static_cast<std::int32_t>(c), ++seed);
      in.heldout_groups = test::random_indices({q}, groups, ++seed);
      Tensor pe = test::random_tensor({2, k, q}, DType::f64, ++seed, 0.01, 1, false);
      for (std::int64_t i = 0; i < k * q; ++i) pe.flat<double>(k * q + i) = std::log(pe.flat<double>(i));
      in.heldout_per_example = pe;
      in.heldout_dist = test::random_tensor({k, q, c}, DType::f64, ++seed, 0.1, 2, false);
    }
    in.norms = test::random_tensor({k, 3 * layers + 1}, DType::f64, ++seed, 0.5, 2, false);
    Tensor step = Tensor::host({1}, DType::i32);
    step.flat<std::int32_t>(0) = 8;
    in.step = step;
    in.layers = static_cast<int>(layers);
    in.groups = groups;
    in.every = every;
    const std::int64_t m_cols = stats::row_columns(static_cast<int>(layers), groups);
    std::int64_t p2 = 1;
    while (p2 < p) p2 <<= 1;
    Tensor rows_cpu = Tensor::zeros({ring, k, m_cols}, DType::f64, *cpu);
    Tensor ring_cpu = Tensor::zeros({ring, k, p + q}, DType::f32, *cpu);
    Tensor scratch_cpu = Tensor::empty({k, p2}, DType::f64, *cpu);
    ops::step_summary(rows_cpu, ring_cpu, scratch_cpu, in, *cpu);
    ops::StepSummaryInputs g = in;
    for (Tensor* t : {&g.train_margins, &g.train_classes, &g.train_loss, &g.train_log10_loss, &g.train_dist, &g.means,
                      &g.heldout_margins, &g.heldout_classes, &g.heldout_groups, &g.heldout_per_example,
                      &g.heldout_dist, &g.norms, &g.step}) {
      if (t->defined()) *t = t->to(*gpu);
    }
    Tensor rows_gpu = Tensor::zeros({ring, k, m_cols}, DType::f64, *gpu);
    Tensor ring_gpu = Tensor::zeros({ring, k, p + q}, DType::f32, *gpu);
    Tensor scratch_gpu = Tensor::empty({k, p2}, DType::f64, *gpu);
    ops::step_summary(rows_gpu, ring_gpu, scratch_gpu, g, *gpu);
    EXPECT_TRUE(test::all_close(rows_gpu.to_host(), rows_cpu, 1e-12, 1e-12)) << "K=" << k << " P=" << p;
    EXPECT_TRUE(test::bitwise_equal(ring_gpu.to_host(), ring_cpu));
  }
}

// A monitored run on CUDA (graphs with and without the observer, asynchronous drains) gives the
// rows of the same run on the CPU.
TEST_F(StatsCuda, MonitoredRunMatchesCpu) {
  auto run = [](Context& ctx, std::vector<std::vector<double>>& rows) {
    Context host;
    Tensor x = Tensor::host({64, 8}, DType::f32);
    ops::random_normal(x, RngKey{9, 1, 0}, 0, 1, host);
    Tensor y = Tensor::host({64}, DType::i32), hx = Tensor::host({20, 8}, DType::f32);
    ops::random_normal(hx, RngKey{9, 2, 0}, 0, 1, host);
    Tensor hy = Tensor::host({20}, DType::i32), hg = Tensor::host({20}, DType::i32);
    for (int i = 0; i < 64; ++i) y.flat<std::int32_t>(i) = x.flat<float>(i * 8) + x.flat<float>(i * 8 + 1) > 0;
    for (int i = 0; i < 20; ++i) {
      hy.flat<std::int32_t>(i) = hx.flat<float>(i * 8) + hx.flat<float>(i * 8 + 1) > 0;
      hg.flat<std::int32_t>(i) = i % 2;
    }
    Context& c = ctx;
    nn::TrainData data{x.to(c), y.to(c), Tensor(), Tensor()};
    nn::MlpSpec spec;
    spec.input_dim = 8;
    spec.hidden = {32};
    spec.output_dim = 1;
    nn::EnsembleSpec ens;
    ens.models = 3;
    ens.seeds = {1, 2, 3};
    nn::Mlp mlp(c, spec, ens);
    nn::OptimizerSpec os;
    os.lr = {0.2};
    nn::Optimizer opt(mlp.params(), os);
    nn::TrainerSpec ts;
    ts.loss.kind = LossKind::logistic;
    ts.steps_per_graph = 4;
    nn::Trainer trainer(mlp.params(), mlp.forward_fn(), opt, data, ts);
    metrics::MonitorSpec ms;
    ms.every = 2;
    ms.log_every = 8;
    ms.snapshots = false;
    ms.on_row = [&rows](std::int64_t, const std::vector<double>& r) { rows.push_back(r); };
    metrics::Monitor mon(trainer, mlp, data, {hx.to(c), hy.to(c), hg.to(c), {"a", "b"}}, ms);
    mon.run(37);
    mon.finish();
  };
  std::vector<std::vector<double>> rows_cpu, rows_gpu;
  run(*cpu, rows_cpu);
  run(*gpu, rows_gpu);
  ASSERT_EQ(rows_cpu.size(), rows_gpu.size());
  for (std::size_t i = 0; i < rows_cpu.size(); ++i) {
    ASSERT_EQ(rows_cpu[i].size(), rows_gpu[i].size());
    for (std::size_t j = 0; j < rows_cpu[i].size(); ++j) {
      const double a = rows_cpu[i][j], b = rows_gpu[i][j];
      if (std::isnan(a) && std::isnan(b)) continue;
      EXPECT_NEAR(b, a, 1e-3 * (1 + std::abs(a))) << "row " << i << " column " << j;
    }
  }
}

}  // namespace
}  // namespace groove
