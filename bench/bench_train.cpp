// The whole training step (forward + loss + backward + fused update) of the piriform-1k workload
// (shared/PERF.md): 2-layer MLP, D = 128 inputs, N = 1024 hidden ReLU units, C = 2 classes,
// P = 512 examples, full-batch gradient descent, f32, K models sharing the inputs. Reports
// steps/s, model-steps/s and FLOP/s (4PDN + 6PNC per model-step). stats:1 adds the per-step
// statistics (metrics::Monitor, a row every step; Q = 64 held-out examples in 2 groups; drained
// every 1000 steps; no files), stats:0 trains without them.
#include "bench/bench_util.h"
#include "bench/workload.h"
#include "metrics/monitor.h"
#include "metrics/probes.h"
#include "metrics/svm.h"
#include "nn/trainer.h"

namespace groove::bench {
namespace {

void train_step(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  WorkloadSpec spec;  // piriform-1k (bench/workload.h), the workload of `groove bench`
  spec.k = state.range(0);
  spec.stats = state.range(1) != 0;
  Workload w(*ctx, spec);
  const std::int64_t steps_per_iteration = ctx->is_cuda() ? 64 : 1;
  w.run(steps_per_iteration + 1);  // record, capture, warm up
  ctx->synchronize();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    w.run(steps_per_iteration);
    ctx->synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double steps = static_cast<double>(state.iterations() * steps_per_iteration);
  state.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["model-steps/s"] =
      benchmark::Counter(steps * static_cast<double>(spec.k), benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] = benchmark::Counter(steps * static_cast<double>(spec.k) * spec.flops_per_model_step(),
                                                benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}

void BM_TrainStepCpu(benchmark::State& s) {
  train_step(s, &cpu_context());
}
void BM_TrainStepCuda(benchmark::State& s) {
  train_step(s, gpu_context());
}

BENCHMARK(BM_TrainStepCpu)
    ->ArgNames({"K", "stats"})
    ->ArgsProduct({{1, 64}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TrainStepCuda)
    ->ArgNames({"K", "stats"})
    ->ArgsProduct({{1, 64}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace groove::bench

namespace groove::bench {
namespace {

// The periodic statistics on the piriform-1k hidden layer (K models, P = 512 train and Q = 64
// held-out examples in 2 groups, N = 1024 features, binary labels), time per call:
// stat 0 SVM, 1 ridge, 2 logistic, 3 Fisher, 4 RSM, 5 kernel alignment, 6 PGD (10 steps), 7 the
// clean forward pass that gives the features (included in every other row's setup, not timed).
void periodic(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t k = state.range(0), stat = state.range(1), d = 128, n = 1024, p = 512, q = 64;
  nn::MlpSpec spec;
  spec.input_dim = d;
  spec.hidden = {n};
  spec.output_dim = 1;
  nn::EnsembleSpec ens;
  ens.models = k;
  ens.seeds = {};
  for (std::int64_t i = 0; i < k; ++i) ens.seeds.push_back(static_cast<std::uint64_t>(i));
  nn::Mlp mlp(*ctx, spec, ens);
  const Tensor x = random_on(*ctx, {p, d}, DType::f32, 1), hx = random_on(*ctx, {q, d}, DType::f32, 2);
  Tensor labels = Tensor::host({p}, DType::i32), hl = Tensor::host({q}, DType::i32), hg = Tensor::host({q}, DType::i32);
  for (std::int64_t i = 0; i < p; ++i) labels.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % 2);
  for (std::int64_t i = 0; i < q; ++i) {
    hl.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % 2);
    hg.flat<std::int32_t>(i) = static_cast<std::int32_t>((i / 2) % 2);
  }
  auto features = [&](const Tensor& in) {
    Tape tape(*ctx);
    Tape::NoGrad no_grad(tape);
    nn::RngRef rng;
    rng.train = false;
    mlp.forward(tape, tape.input(in), rng);
    return tape.value(tape.tagged("features"));
  };
  metrics::ProbeSet set;
  set.train_features = features(x);
  set.train_labels = labels.to(*ctx);
  set.test_features = features(hx);
  set.test_labels = hl.to(*ctx);
  set.test_groups = hg.to(*ctx);
  set.groups = 2;
  const Tensor held_labels = hl.to(*ctx);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    switch (stat) {
      case 0:
        benchmark::DoNotOptimize(metrics::svm_max_margin(set.train_features, set.train_labels, 2, {}, *ctx));
        break;
      case 1:
        benchmark::DoNotOptimize(metrics::ridge_probe(set, 1e-3, *ctx));
        break;
      case 2:
        benchmark::DoNotOptimize(metrics::logistic_probe(set, 1e-3, 500, 1e-6, *ctx));
        break;
      case 3:
        benchmark::DoNotOptimize(metrics::fisher(set, 1, 1e-3, *ctx));
        break;
      case 4:
        benchmark::DoNotOptimize(metrics::rsm(set, *ctx));
        break;
      case 5:
        benchmark::DoNotOptimize(metrics::kernel_alignment(set.train_features, set.train_labels, 2, *ctx));
        break;
      case 6: {
        metrics::PgdSpec pgd;
        pgd.epsilon = 0.1;
        benchmark::DoNotOptimize(metrics::pgd_margins(mlp, hx, held_labels, pgd).to_host());
        break;
      }
      default:
        benchmark::DoNotOptimize(features(x));
        break;
    }
    ctx->synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

void BM_PeriodicCpu(benchmark::State& s) {
  periodic(s, &cpu_context());
}
void BM_PeriodicCuda(benchmark::State& s) {
  periodic(s, gpu_context());
}
BENCHMARK(BM_PeriodicCpu)
    ->ArgNames({"K", "stat"})
    ->ArgsProduct({{1}, {0, 1, 2, 3, 4, 5, 6, 7}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeriodicCuda)
    ->ArgNames({"K", "stat"})
    ->ArgsProduct({{1, 64}, {0, 1, 2, 3, 4, 5, 6, 7}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace groove::bench
