// Elementwise and reduction benchmarks (memory bound): bytes/s moved per iteration.
#include "bench/bench_util.h"
#include "kernels/ops.h"

namespace groove::bench {
namespace {

void relu_forward(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t n = state.range(0);
  Tensor x = random_on(*ctx, {n}, DType::f32, 1), y = Tensor::empty({n}, DType::f32, *ctx);
  run_timed(state, *ctx, [&] { ops::activation_forward(y, x, Activation::relu, *ctx); });
  set_rates(state, 0, 8.0 * double(n), ctx);
}

void relu_backward(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t n = state.range(0);
  Tensor x = random_on(*ctx, {n}, DType::f32, 1), dy = random_on(*ctx, {n}, DType::f32, 2);
  Tensor dx = Tensor::empty({n}, DType::f32, *ctx);
  run_timed(state, *ctx, [&] { ops::activation_backward(dx, dy, x, Activation::relu, false, *ctx); });
  set_rates(state, 0, 12.0 * double(n), ctx);
}

void row_sum(benchmark::State& state, Context* ctx) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t rows = state.range(0), cols = state.range(1);
  Tensor x = random_on(*ctx, {rows, cols}, DType::f32, 1), out = Tensor::empty({rows}, DType::f32, *ctx);
  run_timed(state, *ctx, [&] { ops::reduce(out, x, 1, ReduceOp::sum, *ctx); });
  set_rates(state, 0, 4.0 * double(rows * cols + rows), ctx);
}

void BM_ReluForwardCpu(benchmark::State& s) {
  relu_forward(s, &cpu_context());
}
void BM_ReluForwardCuda(benchmark::State& s) {
  relu_forward(s, gpu_context());
}
void BM_ReluBackwardCpu(benchmark::State& s) {
  relu_backward(s, &cpu_context());
}
void BM_ReluBackwardCuda(benchmark::State& s) {
  relu_backward(s, gpu_context());
}
void BM_RowSumCpu(benchmark::State& s) {
  row_sum(s, &cpu_context());
}
void BM_RowSumCuda(benchmark::State& s) {
  row_sum(s, gpu_context());
}

BENCHMARK(BM_ReluForwardCpu)->Arg(1 << 12)->Arg(1 << 19)->Arg(1 << 23)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReluForwardCuda)->Arg(1 << 12)->Arg(1 << 19)->Arg(1 << 23)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReluBackwardCpu)->Arg(1 << 12)->Arg(1 << 19)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReluBackwardCuda)->Arg(1 << 19)->Arg(1 << 23)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RowSumCpu)->Args({1024, 512})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RowSumCuda)->Args({1024, 512})->Args({65536, 512})->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace groove::bench
