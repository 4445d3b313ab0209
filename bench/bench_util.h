// Benchmark helpers: device contexts shared by all benchmarks, device-event timing, and counters
// for FLOP/s and bytes/s (with % of a stated peak when the device's peak is known).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove::bench {

// Contexts live for the whole benchmark run (CUDA context creation is expensive).
Context& cpu_context();
// nullptr when no GPU is usable; CUDA benchmarks then skip with a message.
Context* gpu_context();

// Times `body` for the benchmark's iterations. On CUDA each iteration is bracketed by
// synchronizations and measured as manual time, so queued work is fully counted.
template <typename F>
void run_timed(benchmark::State& state, Context& ctx, F&& body) {
  body();  // warm-up (first-touch allocation, cuBLAS heuristics)
  ctx.synchronize();
  for (auto _ : state) {
    if (ctx.is_cuda()) {
      const auto t0 = std::chrono::steady_clock::now();
      body();
      ctx.synchronize();
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } else {
      body();
    }
  }
}

// Adds "FLOP/s" and "bytes/s" rate counters for `flops` and `bytes` of work per iteration, and,
// on a GPU whose peaks are known (runtime/device.h), "%peak_flops" and "%peak_bw": the share of
// its FP32 peak and DRAM bandwidth. (CPU peaks are not known on the VMs groove runs on; `groove
// bench` compares the CPU step with OpenBLAS sgemm measured on the spot instead.)
void set_rates(benchmark::State& state, double flops, double bytes, const Context* ctx = nullptr);

Tensor random_on(Context& ctx, const Shape& shape, DType dtype, std::uint64_t seed);

}  // namespace groove::bench
