// Monitor: everything users watch during a long run, for all K models of a Trainer at once.
//
//   per-step   every `every` steps, inside the training step (captured in its CUDA graph): margins,
//              accuracy, losses per held-out group, nearest-class-mean probes, hidden-layer
//              geometry, weight norms and movement, gradient norm (kernels/stats_ops.h). One row per
//              model into a device ring buffer, drained to the host asynchronously through a pinned
//              double buffer every `log_every` steps: no host synchronization per step.
//   periodic   every `probe_every` steps, between steps: hard-margin SVM of the hidden layer, ridge
//              and logistic probes, Fisher discriminants, RSM/RSA, kernel-target alignment, PGD
//              robustness, hidden-layer snapshots.
//   events     groove onset, per-example flips, growth per decade (host, streaming).
//   files      per model, in spec.run_dirs[k]: metrics.csv, examples.npy, snapshots/, summary.json.
// Column definitions: docs/metrics.md.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/pgd.h"
#include "nn/trainer.h"

namespace groove::metrics {

// Held-out examples watched during training (the test set and the probe groups), on the trainer's
// device.
struct HeldOut {
  Tensor x;                              // [Q, D], the training data's dtype
  Tensor labels;                         // i32 [Q]
  Tensor groups;                         // i32 [Q] in [0, G)
  std::vector<std::string> group_names;  // G names, e.g. "test", "probe_overlap_4"
};

// The periodic statistics and their settings (docs/metrics.md, "Periodic statistics").
struct PeriodicSpec {
  bool svm = true;             // hard-margin SVM on the train hidden features
  double svm_tol = 1e-6;       // stopping tolerance on the maximal KKT violation
  bool ridge = true;           // closed-form ridge probe
  double ridge_lambda = 1e-3;  // relative ridge (see docs/metrics.md)
  bool logistic = true;        // logistic / softmax probe
  double logistic_lambda = 1e-3;
  int logistic_max_iter = 500;
  double logistic_tol = 1e-6;
  bool fisher = true;  // Fisher discriminants: target class vs the other classes and each group
  int fisher_target_class = 1;
  double fisher_ridge = 1e-3;
  bool rsa = true;       // RSM of class / group means (+ Spearman RSA when a reference is given)
  Tensor rsa_reference;  // host [M, M] reference dissimilarities (M = classes + groups), or undefined
  bool kernel_alignment = true;
  PgdSpec pgd;  // epsilon = 0: off
};

struct MonitorSpec {
  std::int64_t every = 1;         // a row of per-step statistics every `every` steps
  std::int64_t log_every = 1000;  // drain rows to the host (and files) at least this often (steps)
  std::int64_t probe_every = 0;   // periodic statistics every probe_every steps (0: only at the end)
  std::int64_t onset_window = 0;  // steps train accuracy must stay at 100% to confirm the onset
  PeriodicSpec periodic;
  bool examples = true;  // examples.npy: per-example margins of every row
  // Hidden-layer snapshots: features of the first `snapshot_examples` held-out examples (train
  // examples when there are none) at the given steps; empty: 0 and 1, 2, 5 x 10^j up to the end.
  bool snapshots = true;
  std::vector<std::int64_t> snapshot_steps;
  std::int64_t snapshot_examples = 256;
  std::vector<std::string> run_dirs;  // one output folder per model (created); empty: no files
  std::string summary_extra_json;     // a JSON object merged into every summary.json ("" = none)
  // Called on the host for every drained row of every model (after the periodic columns are
  // merged): columns() values. For embedding and tests; files do not need it.
  std::function<void(std::int64_t model, const std::vector<double>& row)> on_row;
  std::int64_t ring_bytes = std::int64_t(256) << 20;  // device ring buffer budget
  // Resuming from a checkpoint: per model, the state() saved at the checkpoint (empty: a fresh
  // run). The trainer must be at the checkpoint's step; the files in run_dirs are reopened, rows
  // written after the checkpoint are dropped, and the event trackers continue where they were.
  // Construct the Monitor from the freshly initialized parameters (theta_0, the reference of the
  // weight movement), then load the checkpoint's parameters.
  std::vector<std::vector<double>> resume_states;
};

class Monitor {
 public:
  // Watches `trainer` (whose forward is model.forward_fn()) training on `train`. Installs the
  // trainer's observer; the Monitor must outlive the training it watches.
  Monitor(nn::Trainer& trainer, const nn::Model& model, const nn::TrainData& train, HeldOut held_out, MonitorSpec spec);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Trains `steps` more steps, computing and writing every statistic on schedule.
  void run(std::int64_t steps);
  // Computes the last row (the final parameters), the final periodic statistics and snapshot,
  // drains everything and writes summary.json. Idempotent; run() after it is an error.
  void finish();

  // Writes every row recorded so far (steps < the trainer's steps_done) to the files and fsyncs
  // them: the point a checkpoint can be taken.
  void flush();
  // Model `model`'s state after flush(): rows written, event trackers, last values (for
  // MonitorSpec::resume_states).
  std::vector<double> state(std::int64_t model) const;

  // Column names of metrics.csv (per-step columns, then periodic ones).
  const std::vector<std::string>& columns() const;
  // Each model's summary (what summary.json holds), as JSON text; valid after finish().
  std::string summary_json(std::int64_t model) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace groove::metrics
