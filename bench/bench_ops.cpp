// The fused kernels of a training step besides the GEMMs, at the piriform-1k shapes (P = 512,
// N = 1024, D = 128, C = 2) for K models: the fused loss (loss, log10 loss, gradient of the logits
// and per-example losses in one pass), the fused optimizer update (every parameter of every model
// in one kernel; SGD and Adam), and the per-step hidden-layer statistics (margins, class means,
// distances to the class means, parameter norms). All are memory bound: each reports the bytes it
// must move at least (inputs read once, outputs written once) as bytes/s and, on a GPU, % of
// DRAM peak. The SVM solver's benchmark is BM_Periodic*/stat:0 (bench_train.cpp).
#include "bench/bench_util.h"
#include "kernels/ops.h"
#include "kernels/stats_ops.h"

namespace groove::bench {
namespace {

constexpr std::int64_t kP = 512, kN = 1024, kD = 128, kC = 2;

Tensor labels_on(Context& ctx, std::int64_t n) {
  Tensor l = Tensor::host({n}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) l.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % kC);
  return l.to(ctx);
}

// ops::loss_forward on logits [K, P, C]: reads logits and labels, writes dlogits and the f64
// per-example loss and log-loss.
void loss(benchmark::State& state, Context* ctx) {
  if (!ctx) return state.SkipWithError("no GPU found: CUDA benchmark skipped");
  const std::int64_t k = state.range(0);
  const Tensor logits = random_on(*ctx, {k, kP, kC}, DType::f32, 1), labels = labels_on(*ctx, kP);
  Tensor l = Tensor::empty({k}, DType::f32, *ctx), l10 = Tensor::empty({k}, DType::f32, *ctx);
  Tensor dlogits = Tensor::empty({k, kP, kC}, DType::f32, *ctx);
  Tensor per_example = Tensor::empty({2, k, kP}, DType::f64, *ctx);
  run_timed(state, *ctx, [&] {
    ops::loss_forward(l, l10, dlogits, per_example, logits, labels, Tensor(), Tensor(), static_cast<double>(kP), {},
                      *ctx);
  });
  set_rates(state, 0, double(k) * kP * (8.0 * kC + 16.0) + 4.0 * kP, ctx);
}

// ops::optimizer_update over the piriform-1k parameters of K models (W0 [N, D], b0 [N],
// W1 [C, N], b1 [C]): SGD reads params and grads and writes params (12 bytes per parameter);
// Adam also reads and writes both moments (28 bytes).
void optimizer(benchmark::State& state, Context* ctx) {
  if (!ctx) return state.SkipWithError("no GPU found: CUDA benchmark skipped");
  const std::int64_t k = state.range(0);
  const bool adam = state.range(1) != 0;
  const std::int64_t sizes[] = {kN * kD, kN, kC * kN, kC};
  ops::ParamSegments seg;
  seg.models = k;
  std::int64_t total = 0;
  for (std::int64_t s : sizes) {
    seg.offset[seg.count] = total;
    seg.per_model[seg.count++] = s;
    total += k * s;
  }
  Tensor params = random_on(*ctx, {total}, DType::f32, 1), grads = random_on(*ctx, {total}, DType::f32, 2);
  Tensor m = adam ? random_on(*ctx, {total}, DType::f32, 3) : Tensor(), v;
  if (adam) {
    v = Tensor::empty({total}, DType::f32, *ctx);
    ops::random_uniform(v, RngKey{4, 0xbe7c, 0}, 0.0, 1.0, *ctx);  // second moments are >= 0
  }
  Tensor comp;
  Tensor lr = Tensor::host({k}, DType::f64), wd = Tensor::host({k}, DType::f64);
  for (std::int64_t i = 0; i < k; ++i) lr.flat<double>(i) = 1e-3, wd.flat<double>(i) = 0.0;
  lr = lr.to(*ctx), wd = wd.to(*ctx);
  Tensor step = Tensor::host({1}, DType::i32);
  step.flat<std::int32_t>(0) = 10;
  step = step.to(*ctx);
  OptimizerHyper hyper;
  hyper.kind = adam ? OptimizerKind::adam : OptimizerKind::sgd;
  run_timed(state, *ctx, [&] { ops::optimizer_update(params, grads, m, v, comp, seg, lr, wd, step, hyper, *ctx); });
  set_rates(state, 0, double(total) * (adam ? 28.0 : 12.0), ctx);
}

// The per-step hidden-layer statistics of the Monitor on train features h [K, P, N]: output
// margins, class means, squared distances to them (for the nearest-class-mean probe and the
// within-class variance), and the parameter norms. Reads h twice (means, distances), the logits
// once and every parameter, its initial value and its gradient once.
void step_stats(benchmark::State& state, Context* ctx) {
  if (!ctx) return state.SkipWithError("no GPU found: CUDA benchmark skipped");
  const std::int64_t k = state.range(0);
  const Tensor h = random_on(*ctx, {k, kP, kN}, DType::f32, 1), logits = random_on(*ctx, {k, kP, kC}, DType::f32, 2);
  const Tensor labels = labels_on(*ctx, kP);
  Tensor margins = Tensor::empty({k, kP}, DType::f64, *ctx), means = Tensor::empty({k, kC, kN}, DType::f32, *ctx);
  Tensor dist = Tensor::empty({k, kP, kC}, DType::f64, *ctx);
  const std::int64_t sizes[] = {kN * kD, kN, kC * kN, kC};
  ops::ParamSegments all, weights;
  all.models = weights.models = k;
  std::int64_t total = 0;
  for (int i = 0; i < 4; ++i) {
    all.offset[all.count] = total;
    all.per_model[all.count++] = sizes[i];
    if (i % 2 == 0) {
      weights.offset[weights.count] = total;
      weights.per_model[weights.count++] = sizes[i];
    }
    total += k * sizes[i];
  }
  const Tensor values = random_on(*ctx, {total}, DType::f32, 3), initial = random_on(*ctx, {total}, DType::f32, 4);
  const Tensor grads = random_on(*ctx, {total}, DType::f32, 5);
  Tensor norms = Tensor::empty({k, 3 * 2 + 1}, DType::f64, *ctx);
  run_timed(state, *ctx, [&] {
    ops::margins(margins, logits, labels, *ctx);
    ops::class_means(means, h, labels, *ctx);
    ops::sq_distances(dist, h, means, *ctx);
    ops::param_norms(norms, values, initial, grads, weights, all, *ctx);
  });
  const double bytes = double(k) * (2.0 * 4 * kP * kN + 4.0 * kP * kC + 8.0 * kP + 8.0 * kP * kC) + 12.0 * double(total);
  // FLOPs: means (P N adds), distances (3 P C N), norms (2 per parameter, 3 reductions).
  const double flops = double(k) * (double(kP) * kN + 3.0 * kP * kC * kN) + 6.0 * double(total);
  set_rates(state, flops, bytes, ctx);
}

void BM_LossCpu(benchmark::State& s) { loss(s, &cpu_context()); }
void BM_LossCuda(benchmark::State& s) { loss(s, gpu_context()); }
void BM_OptimizerCpu(benchmark::State& s) { optimizer(s, &cpu_context()); }
void BM_OptimizerCuda(benchmark::State& s) { optimizer(s, gpu_context()); }
void BM_StepStatsCpu(benchmark::State& s) { step_stats(s, &cpu_context()); }
void BM_StepStatsCuda(benchmark::State& s) { step_stats(s, gpu_context()); }

BENCHMARK(BM_LossCpu)->ArgName("K")->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LossCuda)->ArgName("K")->Arg(1)->Arg(64)->Arg(1024)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OptimizerCpu)->ArgNames({"K", "adam"})->ArgsProduct({{1, 64}, {0, 1}})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OptimizerCuda)
    ->ArgNames({"K", "adam"})
    ->ArgsProduct({{1, 64, 1024}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepStatsCpu)->ArgName("K")->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepStatsCuda)->ArgName("K")->Arg(1)->Arg(64)->Arg(1024)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace groove::bench
