// The training kernels on CUDA against their CPU twins: losses (every kind, weights, per-model
// labels), the fused optimizer (every kind, Kahan), dropout and noise masks (bitwise), minibatch
// indices (bitwise), the step counter. Skipped with a message when no GPU is present.
#include <gtest/gtest.h>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

class TrainOpsCuda : public test::GpuTest {
 protected:
  Tensor on_gpu(const Tensor& t) { return t.to(*gpu); }
};

TEST_F(TrainOpsCuda, LossesMatchTheCpu) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (std::int64_t p : {1, 7, 257, 3001}) {
      for (int kind = 0; kind < kNumLossKinds; ++kind) {
        const std::int64_t k = 3, c = kind == int(LossKind::logistic) ? 1 : 4;
        const Tensor logits = test::random_tensor({k, p, c}, dt, static_cast<std::uint64_t>(p), 0.1, 8.0);
        const Tensor labels = test::random_indices({k, p}, c == 1 ? 2 : static_cast<std::int32_t>(c), 2);
        const Tensor weights = test::random_tensor({p}, dt, 3, 0.5, 2.0, false);
        double wsum = 0;
        for (std::int64_t i = 0; i < p; ++i)
          wsum += dt == DType::f32 ? weights.flat<float>(i) : weights.flat<double>(i);
        ops::LossSpec spec;
        spec.kind = static_cast<LossKind>(kind);
        Tensor l = Tensor::host({k}, dt), lg = Tensor::host({k}, dt), d = Tensor::host(logits.shape(), dt);
        Tensor pe = Tensor::host({2, k, p}, DType::f64);
        ops::loss_forward(l, lg, d, pe, logits, labels, Tensor(), weights, wsum, spec, *cpu);
        Tensor gl = Tensor::empty({k}, dt, *gpu), glg = Tensor::empty({k}, dt, *gpu);
        Tensor gd = Tensor::empty(logits.shape(), dt, *gpu), gpe = Tensor::empty({2, k, p}, DType::f64, *gpu);
        ops::loss_forward(gl, glg, gd, gpe, on_gpu(logits), on_gpu(labels), Tensor(), on_gpu(weights), wsum, spec,
                          *gpu);
        const auto tol = test::default_tolerance(dt);
        EXPECT_TRUE(test::all_close(gl, l, tol.atol, tol.rtol)) << kLossNames[kind] << " p " << p;
        EXPECT_TRUE(test::all_close(glg, lg, tol.atol, tol.rtol)) << kLossNames[kind] << " p " << p;
        EXPECT_TRUE(test::all_close(gd, d, tol.atol, tol.rtol)) << kLossNames[kind] << " p " << p;
        EXPECT_TRUE(test::all_close(gpe.models(0, 1), pe.models(0, 1), 1e-12, 1e-12)) << kLossNames[kind];
      }
    }
  }
}

TEST_F(TrainOpsCuda, OptimizerUpdatesMatchTheCpu) {
  for (int kind = 0; kind < kNumOptimizerKinds; ++kind) {
    for (bool kahan : {false, true}) {
      const std::int64_t models = 3;
      ops::ParamSegments seg;
      seg.count = 2;
      seg.models = models;
      seg.per_model[0] = 1001;
      seg.per_model[1] = 7;
      seg.offset[1] = models * 1001;
      const std::int64_t n = models * (1001 + 7);
      OptimizerHyper h;
      h.kind = static_cast<OptimizerKind>(kind);
      h.schedule.kind = ScheduleKind::cosine;
      h.schedule.warmup_steps = 2;
      h.schedule.total_steps = 20;
      const Tensor lr = Tensor::from_vector<double>({models}, {0.1, 0.01, 0.5});
      const Tensor wd = Tensor::from_vector<double>({models}, {0.0, 0.1, 0.01});
      Tensor p = test::random_tensor({n}, DType::f32, 1), s1 = Tensor::host_zeros({n}, DType::f32);
      Tensor s2 = Tensor::host_zeros({n}, DType::f32), comp = kahan ? Tensor::host_zeros({n}, DType::f32) : Tensor();
      Tensor gp = on_gpu(p), gs1 = on_gpu(s1), gs2 = on_gpu(s2), gcomp = kahan ? on_gpu(comp) : Tensor();
      Tensor step = Tensor::zeros({1}, DType::i32, *cpu), gstep = Tensor::zeros({1}, DType::i32, *gpu);
      for (int t = 0; t < 5; ++t) {
        const Tensor g = test::random_tensor({n}, DType::f32, 10 + static_cast<std::uint64_t>(t));
        ops::optimizer_update(p, g, s1, s2, comp, seg, lr, wd, step, h, *cpu);
        ops::optimizer_update(gp, on_gpu(g), gs1, gs2, gcomp, seg, on_gpu(lr), on_gpu(wd), gstep, h, *gpu);
        ops::increment_counter(step, *cpu);
        ops::increment_counter(gstep, *gpu);
      }
      EXPECT_TRUE(test::all_close(gp, p, 1e-6, 1e-5)) << kOptimizerNames[kind] << " kahan " << kahan;
      EXPECT_TRUE(test::bitwise_equal(gstep, step));
    }
  }
}

TEST_F(TrainOpsCuda, DropoutNoiseAndMinibatchesAreBitwiseEqual) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (std::int64_t n : {1, 7, 257, 100003}) {
      const Tensor x = test::random_tensor({2, n}, dt, 5);
      const Tensor seeds = Tensor::from_vector<std::int32_t>({2}, {17, -3});
      const Tensor step = Tensor::from_vector<std::int32_t>({1}, {12});
      Tensor y = Tensor::host(x.shape(), dt), mask = Tensor::host(x.shape(), dt);
      Tensor gy = Tensor::empty(x.shape(), dt, *gpu), gmask = Tensor::empty(x.shape(), dt, *gpu);
      ops::dropout_forward(y, mask, x, 0.3, seeds, 4, step, *cpu);
      ops::dropout_forward(gy, gmask, on_gpu(x), 0.3, on_gpu(seeds), 4, on_gpu(step), *gpu);
      EXPECT_TRUE(test::bitwise_equal(gmask, mask)) << "dropout n " << n;
      EXPECT_TRUE(test::bitwise_equal(gy, y));
      ops::add_gaussian_noise(y, x, 0.5, seeds, 5, step, *cpu);
      ops::add_gaussian_noise(gy, on_gpu(x), 0.5, on_gpu(seeds), 5, on_gpu(step), *gpu);
      EXPECT_TRUE(test::bitwise_equal(gy, y)) << "noise n " << n;
    }
  }
  const Tensor seeds = Tensor::from_vector<std::int32_t>({3}, {1, 2, 3});
  for (std::int32_t s : {0, 5, 123}) {
    const Tensor step = Tensor::from_vector<std::int32_t>({1}, {s});
    Tensor idx = Tensor::host({3, 17}, DType::i32), gidx = Tensor::empty({3, 17}, DType::i32, *gpu);
    ops::minibatch_indices(idx, 1000, seeds, 2, step, *cpu);
    ops::minibatch_indices(gidx, 1000, on_gpu(seeds), 2, on_gpu(step), *gpu);
    EXPECT_TRUE(test::bitwise_equal(gidx, idx)) << "minibatch step " << s;
  }
}

}  // namespace
}  // namespace groove
