// Dataset: the in-memory form of every task and loader. One feature matrix and one label vector
// for all examples, plus named groups (index sets): "train", optionally "test", and held-out
// probe groups ("probe_overlap_2", ...). Tensors live on one device; generators produce them on
// the host with Philox (bitwise identical wherever they are then copied).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics/monitor.h"
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove::tasks {

struct Group {
  std::string name;
  std::vector<std::int32_t> indices;  // rows of the dataset, in order
};

struct Dataset {
  std::string task;           // generator or loader that made it
  Tensor x;                   // [n, D] features (f32 or f64)
  Tensor y;                   // i32 [n] class labels in [0, num_classes); undefined for regression
  Tensor targets;             // [n, C] real targets (regression tasks); undefined otherwise
  Tensor weights;             // [n] example weights (class balancing); undefined = all 1
  std::int64_t num_classes = 0;  // 0 for regression
  std::vector<Group> groups;     // "train" first; "test" and probe groups after it
  std::map<std::string, double> info;  // task facts (e.g. "max_margin" of the separable task)
  // Ground truth arrays of generated tasks (host tensors): the raw odors, the projection, the
  // max-margin direction, the teacher's weights, ... Names are documented per task in docs/data.md.
  std::map<std::string, Tensor> truth;

  std::int64_t size() const { return x.defined() ? x.dim(0) : 0; }
  std::int64_t dim() const { return x.defined() ? x.dim(1) : 0; }
  bool has_group(const std::string& name) const;
  const Group& group(const std::string& name) const;  // throws naming the groups present

  // The rows of one group, gathered into new tensors on ctx's device.
  struct Split {
    Tensor x, y, targets, weights;
  };
  Split split(const std::string& group, Context& ctx) const;
  // A copy with every tensor on ctx's device.
  Dataset to(Context& ctx) const;
  // Every group but "train" (the test set and the probe groups), rows concatenated in group order,
  // as the held-out set a metrics::Monitor watches. Needs class labels.
  metrics::HeldOut held_out(Context& ctx) const;

  // Checks the invariants every producer must meet: shapes agree, labels lie in
  // [0, num_classes), values are finite, every class has an example in "train", weights are >= 0,
  // group indices are in range. Throws groove::Error prefixed with `what` (a file or task name).
  void validate(const std::string& what) const;
};

}  // namespace groove::tasks
