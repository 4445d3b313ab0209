// ops::fit_linear_decoders on the decoding workload: S = 70 sessions, T = 250 trials, F = 20
// features (every session uses all 20), K models cycling over the sessions with 5 cross-validation
// folds (200 training trials each) and label permutations. Args: kind (0 lda, 1 svm, 2 logistic),
// K. Reports models/s. (K = 200000 needs ~1 GB of host memory for train, labels and scores.)
#include <cmath>
#include <vector>

#include "bench/bench_util.h"
#include "kernels/decode_ops.h"
#include "runtime/philox.h"

namespace groove::bench {
namespace {

struct Workload {
  Tensor x, features, session, train, labels;
};

Workload workload(Context& ctx, std::int64_t k) {
  const std::int64_t s = 70, t = 250, f = 20;
  Workload w;
  Tensor x = random_on(cpu_context(), {s, t, f}, DType::f64, 1);
  Tensor features = Tensor::host({s}, DType::i32), session = Tensor::host({k}, DType::i32);
  Tensor train = Tensor::host({k, t}, DType::f64), labels = Tensor::host({k, t}, DType::i32);
  std::vector<std::int32_t> base(static_cast<std::size_t>(s * t));
  for (std::int64_t i = 0; i < s; ++i) {
    features.flat<std::int32_t>(i) = static_cast<std::int32_t>(f);
    for (std::int64_t j = 0; j < t; ++j) {
      const std::int32_t y = u01_f32(philox_block(7, i, static_cast<std::uint64_t>(j)).v[0]) < 0.5f ? 1 : 0;
      base[i * t + j] = y;
      for (std::int64_t e = 0; e < f; ++e) x.flat<double>((i * t + j) * f + e) += y ? 0.15 : -0.15;
    }
  }
  for (std::int64_t m = 0; m < k; ++m) {
    const std::int64_t sess = m % s, fold = (m / s) % 5, perm = m / (5 * s);
    session.flat<std::int32_t>(m) = static_cast<std::int32_t>(sess);
    for (std::int64_t j = 0; j < t; ++j) {
      train.flat<double>(m * t + j) = j % 5 == fold ? 0.0 : 1.0;
      const std::int32_t y =
          perm == 0 ? base[sess * t + j]
                    : (u01_f32(philox_block(8 + perm, sess, static_cast<std::uint64_t>(j)).v[0]) < 0.5f ? 1 : 0);
      labels.flat<std::int32_t>(m * t + j) = y;
    }
  }
  w.x = x.to(ctx);
  w.features = features.to(ctx);
  w.session = session.to(ctx);
  w.train = train.to(ctx);
  w.labels = labels.to(ctx);
  return w;
}

void decode(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t k = state.range(1);
  ops::DecoderSpec spec;
  spec.kind = static_cast<ops::DecoderKind>(state.range(0));
  const Workload w = workload(*ctx, k);
  Tensor weights = Tensor::empty({k, 21}, DType::f64, *ctx), scores = Tensor::empty({k, 250}, DType::f64, *ctx);
  Tensor info = Tensor::empty({k}, DType::i32, *ctx);
  run_timed(state, *ctx, [&] {
    ops::fit_linear_decoders(weights, scores, info, w.x, w.features, w.session, w.train, w.labels, spec, *ctx);
  });
  state.counters["models/s"] =
      benchmark::Counter(static_cast<double>(k), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DecodeCpu(benchmark::State& state) {
  decode(state, &cpu_context());
}
void BM_DecodeCuda(benchmark::State& state) {
  decode(state, gpu_context());
}

}  // namespace

BENCHMARK(BM_DecodeCpu)
    ->ArgNames({"kind", "K"})
    ->Args({0, 200000})
    ->Args({0, 14000})
    ->Args({1, 14000})
    ->Args({2, 14000})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeCuda)
    ->ArgNames({"kind", "K"})
    ->Args({0, 200000})
    ->Args({1, 200000})
    ->Args({2, 200000})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace groove::bench
