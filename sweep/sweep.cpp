// Sweep expansion, grouping by shape and the memory estimate of `groove sweep --dry-run`.
#include "sweep/sweep.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "runtime/error.h"

namespace groove::sweep {

namespace {

std::string last_part(const std::string& key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// A value as a folder-name token: lists "[256, 256]" -> "256-256"; characters outside
// [A-Za-z0-9._+-] -> "_".
std::string token(const std::string& yaml) {
  std::string out;
  for (char c : yaml) {
    if (c == '[' || c == ']' || c == ' ') continue;
    if (c == ',') {
      out += '-';
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '+' || c == '-') {
      out += c;
    } else {
      out += '_';
    }
  }
  return out.empty() ? "_" : out;
}

}  // namespace

std::vector<std::string> per_model_keys() {
  std::vector<std::string> out;
  for (const KeyInfo& k : schema()) {
    if (k.per_model) out.push_back(k.key);
  }
  return out;
}

std::string shape_key(const Config& config) {
  return config.canonical(per_model_keys());
}

std::vector<RunSpec> expand(const Config& base) {
  const SweepAxes& axes = base.axes();
  std::vector<const Axis*> all;
  for (const Axis& a : axes.grid) all.push_back(&a);
  for (const Axis& a : axes.zip) all.push_back(&a);
  // Folder names use each axis's last key part unless two axes share it.
  std::map<std::string, int> tails;
  for (const Axis* a : all) ++tails[last_part(a->key)];
  auto label = [&](const std::string& key) { return tails[last_part(key)] > 1 ? key : last_part(key); };

  std::int64_t n_grid = 1;
  for (const Axis& a : axes.grid) n_grid *= static_cast<std::int64_t>(a.values.size());
  const std::int64_t n_zip = axes.zip.empty() ? 1 : static_cast<std::int64_t>(axes.zip[0].values.size());
  GROOVE_CHECK(n_grid * n_zip * axes.seeds <= 10000000, base.source(), ": the sweep has ", n_grid * n_zip * axes.seeds,
               " runs (more than 10^7)");
  const std::int64_t seed0 = base.integer("seed");
  std::vector<RunSpec> runs;
  for (std::int64_t g = 0; g < n_grid; ++g) {
    // Mixed-radix digits of g, first axis slowest.
    std::vector<std::size_t> digit(axes.grid.size());
    std::int64_t rest = g;
    for (std::size_t a = axes.grid.size(); a-- > 0;) {
      const auto n = static_cast<std::int64_t>(axes.grid[a].values.size());
      digit[a] = static_cast<std::size_t>(rest % n);
      rest /= n;
    }
    for (std::int64_t z = 0; z < n_zip; ++z) {
      for (std::int64_t s = 0; s < axes.seeds; ++s) {
        RunSpec r;
        r.index = static_cast<std::int64_t>(runs.size());
        r.config = base;
        r.config.axes() = SweepAxes{};
        std::string id;
        auto apply = [&](const Axis& a, const std::string& v) {
          r.config.set(a.key, v, a.where + " (sweep axis)");
          r.hyper.emplace_back(a.key, r.config.string(a.key));
          id += label(a.key) + "=" + token(r.config.string(a.key)) + "_";
        };
        for (std::size_t a = 0; a < axes.grid.size(); ++a) apply(axes.grid[a], axes.grid[a].values[digit[a]]);
        for (const Axis& a : axes.zip) apply(a, a.values[static_cast<std::size_t>(z)]);
        const std::int64_t seed = seed0 + s;
        r.config.set("seed", std::to_string(seed), "sweep.seeds");
        r.hyper.emplace_back("seed", std::to_string(seed));
        r.id = id + "seed=" + std::to_string(seed);
        runs.push_back(std::move(r));
      }
    }
  }
  // Distinct ids (two values with the same token, e.g. "a b" and "a_b", get an index suffix).
  std::map<std::string, int> seen;
  for (RunSpec& r : runs) {
    if (seen[r.id]++ > 0) r.id += "_" + std::to_string(r.index);
  }
  return runs;
}

std::vector<Group> group_runs(const std::vector<RunSpec>& runs, std::int64_t max_models,
                              const std::vector<std::string>& extra) {
  GROOVE_CHECK(max_models >= 1, "group_runs: max_models must be >= 1");
  GROOVE_CHECK(extra.empty() || extra.size() == runs.size(), "group_runs: ", extra.size(), " extra keys for ",
               runs.size(), " runs");
  std::vector<Group> groups;
  std::map<std::string, std::size_t> open;  // shape -> index of its last group
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string key = shape_key(runs[i].config) + (extra.empty() ? "" : "\n@" + extra[i]);
    auto it = open.find(key);
    if (it == open.end() || static_cast<std::int64_t>(groups[it->second].runs.size()) >= max_models) {
      groups.push_back(Group{key, {}});
      open[key] = groups.size() - 1;
      it = open.find(key);
    }
    groups[it->second].runs.push_back(static_cast<std::int64_t>(i));
  }
  return groups;
}

MemoryEstimate estimate_memory(const Config& c, std::int64_t models, const DataShape& d) {
  const std::int64_t bytes = c.string("precision") == "fp64" ? 8 : 4;
  std::vector<std::int64_t> widths;
  if (c.string("model.kind") == "bionet") {
    const std::int64_t w = c.integer("model.bionet.width");
    widths = {w, w, w, c.integer("model.bionet.narrow")};  // wide, associative, feedback, narrow
  } else {
    widths = c.integers("model.hidden");
  }
  std::int64_t outputs = c.integer("model.outputs");
  if (outputs == 0) {
    const std::string loss = c.string("loss.kind");
    outputs = d.classes == 2 && (loss == "logistic" || loss == "hinge") ? 1 : std::max<std::int64_t>(1, d.classes);
  }
  std::int64_t per_model = 0, fan_in = d.dim, sum_widths = 0;
  const bool bias = c.boolean("model.bias");
  for (std::int64_t w : widths) {
    per_model += fan_in * w + (bias ? w : 0);
    fan_in = w;
    sum_widths += w;
  }
  per_model += fan_in * outputs + (bias ? outputs : 0);
  MemoryEstimate m;
  // Values, gradients and the Monitor's copy of the initial values (weight movement).
  m.params = 3 * models * per_model * bytes;
  const std::string opt = c.string("optimizer.kind");
  const std::int64_t states = (opt == "sgd"                               ? 0
                               : (opt == "momentum" || opt == "nesterov") ? 1
                                                                          : 2) +
                              (c.string("precision") == "fp32-kahan" ? 1 : 0);
  m.optimizer = states * models * per_model * bytes;
  // The training tape keeps each layer's pre- and post-activation values and their gradients; the
  // statistics' clean forward passes keep the same for the held-out (and, with minibatches or
  // dropout/noise, the training) examples.
  const std::int64_t batch = c.integer("batch_size") > 0 ? c.integer("batch_size") : d.train;
  const bool clean = c.integer("batch_size") > 0 || c.number("model.dropout") > 0 || c.number("model.noise") > 0 ||
                     c.string("model.kind") == "bionet";
  const std::int64_t rows = batch + d.heldout + (clean ? d.train : 0);
  m.activations = models * rows * (4 * sum_widths + 3 * outputs) * bytes;
  // Statistics: margins and distances to class means (f64), the ring of rows and margins.
  const std::int64_t columns = 40 + 8 * d.groups + 3 * static_cast<std::int64_t>(widths.size() + 1);
  const std::int64_t classes = std::max<std::int64_t>(2, d.classes);
  const std::int64_t examples = d.train + d.heldout;
  std::int64_t ring = std::max<std::int64_t>(1, c.integer("metrics.log_every") / c.integer("metrics.every"));
  const std::int64_t row_bytes = models * (columns * 8 + examples * 4);
  ring = std::min(ring, std::max<std::int64_t>(1, (std::int64_t(256) << 20) / std::max<std::int64_t>(1, row_bytes)));
  m.metrics = ring * row_bytes + models * examples * (classes + 4) * 8 +
              (widths.empty() ? 0 : models * classes * widths.back() * bytes);
  m.data = examples * (d.dim * bytes + 8);
  return m;
}

std::string format_bytes(std::int64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / (1024.0 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024));
  } else if (b >= 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%lld B", static_cast<long long>(bytes));
  }
  return buf;
}

}  // namespace groove::sweep
