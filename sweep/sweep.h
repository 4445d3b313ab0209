// Sweep expansion: a Config with sweep axes becomes a list of runs (the grid's Cartesian product,
// times the zipped lists, times the seeds), each with a stable folder name; runs of one shape are
// grouped into ensembles that train together (docs/config.md, "Sweeps").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sweep/config.h"

namespace groove::sweep {

struct RunSpec {
  std::int64_t index = 0;  // position in the expanded sweep (sharding selects by it)
  std::string id;          // folder name, e.g. "gamma=0.1_kind=hinge_seed=2"
  Config config;           // the run's own configuration (axes applied, seed set, no sweep axes)
  std::vector<std::pair<std::string, std::string>> hyper;  // swept keys and their values, seed last
};

// Order: grid axes (first axis slowest), then the zip index, then the seed (fastest). Seeds are
// seed, seed + 1, ..., seed + sweep.seeds - 1.
std::vector<RunSpec> expand(const Config& base);

// The keys that may differ between the models of one ensemble (KeyInfo::per_model).
std::vector<std::string> per_model_keys();
// Runs with equal shape keys can train as one ensemble: everything but the per-model keys agrees.
std::string shape_key(const Config& config);

// Runs grouped by shape, groups in order of their first run; at most `max_models` runs per group.
// `extra` (empty, or one string per run) splits groups further: runs share a group only when
// their extra strings agree too (the runner passes the step each run resumes from).
struct Group {
  std::string key;
  std::vector<std::int64_t> runs;  // positions in the runs vector given
};
std::vector<Group> group_runs(const std::vector<RunSpec>& runs, std::int64_t max_models = 4096,
                              const std::vector<std::string>& extra = {});

// Predicted device memory of one ensemble (bytes), from the shapes of its data and model
// (docs/config.md, "Memory").
struct MemoryEstimate {
  std::int64_t params = 0, optimizer = 0, activations = 0, metrics = 0, data = 0;
  std::int64_t total() const { return params + optimizer + activations + metrics + data; }
};
struct DataShape {
  std::int64_t train = 0, heldout = 0, dim = 0, classes = 0, groups = 0;
};
MemoryEstimate estimate_memory(const Config& config, std::int64_t models, const DataShape& data);
std::string format_bytes(std::int64_t bytes);

}  // namespace groove::sweep
