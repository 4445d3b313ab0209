// groove_bench: Google Benchmark entry point and shared helpers. Run with --help for filters;
// `tools/gpu-check` runs it on a GPU machine.
#include <chrono>
#include <vector>

#include "bench/bench_util.h"
#include "kernels/ops.h"
#include "runtime/build_info.h"
#include "runtime/device.h"

namespace groove::bench {

Context& cpu_context() {
  static Context ctx(Device::cpu());
  return ctx;
}

Context* gpu_context() {
  static std::unique_ptr<Context> ctx = cuda_device_count() > 0 ? std::make_unique<Context>(Device::cuda(0)) : nullptr;
  return ctx.get();
}

void set_rates(benchmark::State& state, double flops, double bytes, const Context* ctx) {
  if (flops > 0) {
    state.counters["FLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::OneK::kIs1000);
  }
  if (bytes > 0) {
    state.counters["bytes/s"] =
        benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::OneK::kIs1024);
  }
  if (!ctx || !ctx->is_cuda()) return;
  static const std::vector<GpuInfo> gpus = list_gpus();
  for (const GpuInfo& g : gpus) {
    if (g.index != ctx->device().index()) continue;
    // Counters with kIsIterationInvariantRate divide by the time: 100 x work / peak per second.
    if (flops > 0 && fp32_peak_gflops(g) > 0) {
      state.counters["%peak_flops"] = benchmark::Counter(100.0 * flops / (fp32_peak_gflops(g) * 1e9),
                                                         benchmark::Counter::kIsIterationInvariantRate);
    }
    if (bytes > 0 && dram_peak_gbps(g) > 0) {
      state.counters["%peak_bw"] = benchmark::Counter(100.0 * bytes / (dram_peak_gbps(g) * 1e9),
                                                      benchmark::Counter::kIsIterationInvariantRate);
    }
  }
}

Tensor random_on(Context& ctx, const Shape& shape, DType dtype, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, dtype, ctx);
  ops::random_uniform(t, RngKey{seed, 0xbe7c, 0}, -1.0, 1.0, ctx);
  return t;
}

}  // namespace groove::bench

int main(int argc, char** argv) {
  groove::reexec_with_openblas_coretype(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("groove_gpu", groove::bench::gpu_context() ? "yes" : "no (CUDA benchmarks skipped)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
