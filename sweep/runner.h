// The runner behind `groove run` and `groove sweep`: expands a config into runs, keeps this
// shard's runs, groups them by shape into ensembles, and trains each ensemble with a Monitor,
// writing the layout of DESIGN.md "Files a run writes":
//
//   <out>/<name>/sweep.yaml       the resolved sweep config
//   <out>/<name>/sweep.json       name, swept axes and run count (for groove plot)
//   <out>/<name>/runs.csv         one row per run: id, status, step, message, axes, summary
//   <out>/<name>/<run>/config.yaml, metrics.csv, examples.npy, snapshots/, summary.json,
//                      status.json, checkpoint/{latest,previous}.npz, DONE
//
// Runs with DONE are skipped; runs with a checkpoint resume from it (bitwise identical to an
// uninterrupted run). SIGTERM / SIGINT / SIGUSR1 checkpoint every unfinished run of the current
// ensemble and return kExitRequeue. A run whose loss or parameters become non-finite is
// `diverged` (with the step); an ensemble that throws marks its runs `failed` (with the message)
// and the sweep goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "sweep/config.h"
#include "sweep/sweep.h"
#include "tasks/dataset.h"

namespace groove::sweep {

// Exit codes of groove run / sweep (docs/cli.md).
inline constexpr int kExitOk = 0;        // every selected run finished (done or diverged)
inline constexpr int kExitError = 1;     // a bad config, or some runs failed
inline constexpr int kExitRequeue = 75;  // interrupted by a signal after checkpointing: requeue me

struct SweepOptions {
  std::vector<std::string> overrides;  // "key=value"
  std::string shard;                   // "i/n" from --shard ("" = from the environment, if any)
  bool dry_run = false;
  bool single_run = false;         // groove run: the config must describe exactly one run
  bool progress = true;            // progress bar / lines on stderr
  std::int64_t max_models = 4096;  // runs per ensemble at most
  std::ostream* out = nullptr;     // messages (default std::cout)
};

struct SweepSummary {
  std::string dir;  // <out>/<name>
  std::int64_t runs = 0, selected = 0, skipped = 0, done = 0, diverged = 0, failed = 0, interrupted = 0;
  int exit_code = kExitOk;
};

// groove run / groove sweep.
SweepSummary run_sweep(const std::string& config_path, const SweepOptions& options);
// groove sweep --merge DIR: rebuilds DIR/runs.csv from sweep.yaml and every run folder.
void merge_sweep(const std::string& dir);

// The dataset a config describes (task.*), on the host. Relative file paths are resolved against
// `base_dir` (the config file's folder).
tasks::Dataset build_dataset(const Config& config, const std::string& base_dir);
// The number of model outputs for a config and a dataset (model.outputs, 0 = auto).
std::int64_t model_outputs(const Config& config, const tasks::Dataset& data);

}  // namespace groove::sweep
