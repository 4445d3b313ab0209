// The benchmark workload of shared/PERF.md ("piriform-1k" and its grid): K two-layer MLPs
// (D inputs, N ReLU hidden units, C classes; mean-field readout, gamma = 1) trained on the same P
// examples with SGD and cross-entropy, full batch or minibatches of B, with the per-step
// statistics of metrics::Monitor on (every step, drained to the host every 1000 steps) or off.
// Used by `groove bench` (tools/groove/bench_command.cpp), the Google Benchmark step benchmark
// (bench/bench_train.cpp) and, through `groove bench --dump`, by the PyTorch / JAX peers in
// bench/peers/, which re-implement exactly this run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/monitor.h"
#include "nn/mlp.h"
#include "nn/optimizer.h"
#include "nn/trainer.h"
#include "runtime/context.h"

namespace groove::bench {

struct WorkloadSpec {
  std::int64_t d = 128, n = 1024, p = 512, c = 2, k = 1;
  std::int64_t batch = 0;  // 0: full batch
  std::int64_t q = 64;     // held-out examples (two groups, "test" and "probe")
  bool stats = true;       // per-step statistics on
  double lr = 0;           // 0: 0.01 N (mean-field readout 1 / N needs lr proportional to N)
  std::uint64_t seed = 1;  // data; model k is initialized from seed + k
  int steps_per_graph = 16;  // CUDA: steps per captured graph
  std::int64_t log_every = 1000;

  double effective_lr() const { return lr > 0 ? lr : 0.01 * static_cast<double>(n); }
  // FLOPs of one model-step (forward + backward GEMMs): 4 B D N + 6 B N C, B = examples per step.
  double flops_per_model_step() const;
  // "D128 N1024 P512 C2 K1 full" / "... B64".
  std::string label() const;
  // Throws groove::Error naming the bad field.
  void validate() const;
};

// Everything one benchmark run holds, built on `ctx`. Not copyable.
class Workload {
 public:
  Workload(Context& ctx, const WorkloadSpec& spec);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Trains `steps` more steps (with the statistics when spec.stats). Asynchronous on CUDA.
  void run(std::int64_t steps);
  const WorkloadSpec& spec() const { return spec_; }
  Context& context() { return ctx_; }
  nn::Mlp& model() { return *mlp_; }
  nn::Trainer& trainer() { return *trainer_; }
  metrics::Monitor* monitor() { return monitor_.get(); }
  const nn::TrainData& data() const { return data_; }
  const metrics::HeldOut& held_out() const { return held_out_; }
  // The float32 readout scale 1 / (gamma N) the model multiplies by.
  double readout_scale() const;

  // Writes what a peer needs to redo this run (see bench/peers/README.md): bench.json,
  // init.npz, data.npz (with the minibatch indices of the first `steps` steps) and curves.npz
  // (every per-step column, f64 [steps, K]) after training `steps` steps from the initial state.
  // Call on a fresh workload built with stats on; it trains the steps.
  void dump(const std::string& dir, std::int64_t steps, const std::string& groove_json);

 private:
  Context& ctx_;
  WorkloadSpec spec_;
  nn::TrainData data_;
  metrics::HeldOut held_out_;
  std::unique_ptr<nn::Mlp> mlp_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::unique_ptr<nn::Trainer> trainer_;
  std::unique_ptr<metrics::Monitor> monitor_;
  std::function<void(std::int64_t, const std::vector<double>&)> row_sink_;
};

}  // namespace groove::bench
