// GEMM benchmarks at the piriform shapes (PERF.md): the first layer H = X W^T with a shared X,
// and the readout, for K models; OpenBLAS on the CPU, cuBLAS and the handwritten kernel on CUDA.
// Reports FLOP/s (2*M*N*K per product).
#include "bench/bench_util.h"
#include "kernels/ops.h"

namespace groove::bench {
namespace {

// Args: models K, rows P, outputs N, inner D.
void gemm_bench(benchmark::State& state, Context* ctx, ops::GemmAlgo algo) {
  if (!ctx) {
    state.SkipWithError("no GPU found: CUDA benchmark skipped");
    return;
  }
  const std::int64_t k = state.range(0), p = state.range(1), n = state.range(2), d = state.range(3);
  Tensor x = random_on(*ctx, {p, d}, DType::f32, 1);      // shared inputs [P, D]
  Tensor w = random_on(*ctx, {k, n, d}, DType::f32, 2);   // per-model weights [K, N, D]
  Tensor h = Tensor::empty({k, p, n}, DType::f32, *ctx);  // [K, P, N]
  ops::GemmOptions o;
  o.trans_b = true;
  o.algo = algo;
  run_timed(state, *ctx, [&] { ops::gemm(h, x, w, o, *ctx); });
  set_rates(state, 2.0 * double(k) * double(p) * double(n) * double(d), 4.0 * double(p * d + k * n * d + k * p * n), ctx);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"K", "P", "N", "D"});
  for (std::int64_t k : {1, 8, 64}) b->Args({k, 512, 1024, 128});  // piriform-1k first layer
  b->Args({1, 512, 2, 1024});                                      // readout (C = 2)
  b->Args({64, 64, 64, 32});                                       // small models
}

void BM_GemmCpuOpenBLAS(benchmark::State& s) {
  gemm_bench(s, &cpu_context(), ops::GemmAlgo::vendor);
}
void BM_GemmCudaCublas(benchmark::State& s) {
  gemm_bench(s, gpu_context(), ops::GemmAlgo::vendor);
}
void BM_GemmCudaHandwritten(benchmark::State& s) {
  gemm_bench(s, gpu_context(), ops::GemmAlgo::handwritten);
}

BENCHMARK(BM_GemmCpuOpenBLAS)->Apply(shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GemmCudaCublas)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GemmCudaHandwritten)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace groove::bench
