// The periodic statistics of a Monitor (every probe_every steps, between training steps): one
// clean forward pass of the train and held-out sets (evaluation mode), then the SVM, probes,
// Fisher discriminants, RSM/RSA, kernel alignment and PGD, for all K models at once on the
// model's device. Column definitions: docs/metrics.md.
#pragma once

#include <string>
#include <vector>

#include "metrics/monitor.h"

namespace groove::metrics {

struct PeriodicInputs {
  Tensor train_x, train_labels, train_classes;            // [P, D], i32 [P] (as given), i32 [P] in [0, C)
  Tensor held_x, held_labels, held_classes, held_groups;  // [Q, D], i32 [Q] x3 (undefined when Q = 0)
  std::vector<std::int32_t> held_group_host;
};

class Periodic {
 public:
  Periodic(const nn::Model& model, const PeriodicSpec& spec, std::int64_t classes, std::vector<std::string> groups,
           bool hidden, bool has_heldout);

  // Names of the periodic columns, in order.
  const std::vector<std::string>& columns() const { return columns_; }
  // Every periodic column for every model at the current parameters: [K][columns()].
  std::vector<std::vector<double>> compute(const PeriodicInputs& in);
  // Hidden features [K, n, N] of the rows of x [n, D] (evaluation mode).
  Tensor features(const Tensor& x) const;

 private:
  const nn::Model* model_;
  PeriodicSpec spec_;
  std::int64_t classes_;
  std::vector<std::string> groups_;
  bool hidden_, heldout_;
  std::vector<std::string> columns_;
};

}  // namespace groove::metrics
