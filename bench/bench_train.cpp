// The whole training step (forward + loss + backward + fused update) of the piriform-1k workload
// (shared/PERF.md): 2-layer MLP, D = 128 inputs, N = 1024 hidden ReLU units, C = 2 classes,
// P = 512 examples, full-batch gradient descent, f32, K models sharing the inputs. Reports
// steps/s, model-steps/s and FLOP/s (4PDN + 6PNC per model-step). stats:1 adds the per-step
// statistics (metrics::Monitor, a row every step; Q = 64 held-out examples in 2 groups; drained
// every 1000 steps; no files), stats:0 trains without them.
#include "bench/bench_util.h"
#include "metrics/monitor.h"
#include "nn/trainer.h"

namespace groove::bench {
namespace {

void train_step(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t k = state.range(0), d = 128, n = 1024, c = 2, p = 512;
  const Tensor x = random_on(*ctx, {p, d}, DType::f32, 1);
  Tensor labels_host = Tensor::host({p}, DType::i32);
  for (std::int64_t i = 0; i < p; ++i) labels_host.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % c);
  nn::MlpSpec spec;
  spec.input_dim = d;
  spec.hidden = {n};
  spec.output_dim = c;
  spec.parameterization = nn::Parameterization::mean_field;
  nn::EnsembleSpec ens;
  ens.models = k;
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) seeds[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i);
  ens.seeds = seeds;
  nn::Mlp mlp(*ctx, spec, ens);
  nn::OptimizerSpec os;
  os.lr = {0.01 * static_cast<double>(n)};
  nn::Optimizer opt(mlp.params(), os);
  nn::TrainerSpec ts;
  ts.seeds = seeds;
  ts.steps_per_graph = 16;
  const nn::TrainData data{x, labels_host.to(*ctx), {}, {}};
  nn::Trainer trainer(mlp.params(), mlp.forward_fn(), opt, data, ts);
  std::unique_ptr<metrics::Monitor> monitor;
  if (state.range(1)) {
    const std::int64_t q = 64;
    Tensor groups = Tensor::host({q}, DType::i32), held_labels = Tensor::host({q}, DType::i32);
    for (std::int64_t i = 0; i < q; ++i) {
      groups.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % 2);
      held_labels.flat<std::int32_t>(i) = static_cast<std::int32_t>((i / 2) % c);
    }
    metrics::MonitorSpec ms;
    ms.log_every = 1000;
    ms.examples = false;
    ms.snapshots = false;
    monitor = std::make_unique<metrics::Monitor>(
        trainer, mlp, data,
        metrics::HeldOut{random_on(*ctx, {q, d}, DType::f32, 2), held_labels.to(*ctx), groups.to(*ctx), {"a", "b"}},
        ms);
  }
  auto run = [&](std::int64_t steps) {
    if (monitor) {
      monitor->run(steps);
    } else {
      trainer.run(steps);
    }
  };
  const std::int64_t steps_per_iteration = ctx->is_cuda() ? 64 : 1;
  run(steps_per_iteration + 1);  // record, capture, warm up
  ctx->synchronize();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    run(steps_per_iteration);
    ctx->synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double steps = static_cast<double>(state.iterations() * steps_per_iteration);
  state.counters["steps/s"] = benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["model-steps/s"] = benchmark::Counter(steps * static_cast<double>(k), benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] = benchmark::Counter(steps * static_cast<double>(k) * (4.0 * p * d * n + 6.0 * p * n * c),
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
