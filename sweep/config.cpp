// Run configuration: the schema, YAML loading, overrides, validation and nearest-key suggestions.
#include "sweep/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "metrics/writers.h"
#include "runtime/error.h"

namespace groove::sweep {

KeyInfo make_key(std::string name, KeyType type, std::string def, std::string doc) {
  KeyInfo k;
  k.key = std::move(name);
  k.type = type;
  k.default_yaml = std::move(def);
  k.doc = std::move(doc);
  return k;
}
KeyInfo with_range(KeyInfo k, double lo, double hi, bool lo_exclusive) {
  k.min = lo;
  k.max = hi;
  k.min_exclusive = lo_exclusive;
  return k;
}
KeyInfo with_choices(KeyInfo k, std::vector<std::string> choices) {
  k.choices = std::move(choices);
  return k;
}

namespace {

constexpr double kInf = 1e308;

KeyInfo key(std::string name, KeyType type, std::string def, std::string doc) {
  return make_key(std::move(name), type, std::move(def), std::move(doc));
}
KeyInfo per_model(KeyInfo k) {
  k.per_model = true;
  return k;
}

using T = KeyType;

std::vector<KeyInfo> make_schema() {
  std::vector<KeyInfo> s;
  auto add = [&](KeyInfo k) { s.push_back(std::move(k)); };
  // Run.
  add(key("name", T::string, "groove", "sweep name: results go to `out`/`name`/"));
  add(key("out", T::string, "runs", "output root folder"));
  add(key("device", T::string, "auto", "auto (the first GPU when present, else the CPU), cpu, cuda or cuda:N"));
  add(per_model(
      with_range(key("seed", T::integer, "0", "seed of the model: initialization, dropout, noise and minibatch order"),
                 0, 9.2e18)));
  add(with_range(key("steps", T::integer, "10000", "training steps (full batch: epochs)"), 0, 2147483647));
  add(with_range(key("batch_size", T::integer, "0", "examples per step; 0 = full batch"), 0, kInf));
  add(with_choices(key("precision", T::string, "fp32",
                       "parameter and update precision: fp32, fp32-kahan (compensated updates) or fp64"),
                   {"fp32", "fp32-kahan", "fp64"}));
  add(with_range(key("checkpoint_every", T::integer, "10000",
                     "write a checkpoint every this many steps (0: only on signals); always at the end"),
                 0, kInf));
  add(with_range(key("steps_per_graph", T::integer, "1", "CUDA: training steps captured in one graph"), 1, 1024));
  // Task.
  add(with_choices(key("task.kind", T::string, "odor",
                       "dataset: odor, clusters, separable, teacher_student, sparse_parity, modular, npz or csv"),
                   {"odor", "clusters", "separable", "teacher_student", "sparse_parity", "modular", "npz", "csv"}));
  add(with_range(key("task.seed", T::integer, "0", "dataset seed (generated tasks)"), 0, 9.2e18));
  add(with_range(key("task.odor.odorants", T::integer, "100", "k: odorants"), 1, kInf));
  add(with_range(key("task.odor.odor_size", T::integer, "10", "n: odorants per odor (n-hot)"), 1, kInf));
  add(with_range(key("task.odor.non_targets", T::integer, "200", "training non-target odors (no shared odorant)"), 1,
                 kInf));
  add(with_range(key("task.odor.probe_overlaps", T::integer_list, "[1, 2, 4, 8]",
                     "one held-out probe group per overlap with the target"),
                 0, kInf));
  add(with_range(key("task.odor.probes_per_group", T::integer, "20", "probe odors per group"), 1, kInf));
  add(with_range(key("task.odor.test_non_targets", T::integer, "50", "held-out fresh non-targets (0: none)"), 0, kInf));
  add(with_choices(key("task.odor.projection", T::string, "gaussian", "glomerular projection: none, gaussian, sparse"),
                   {"none", "gaussian", "sparse"}));
  add(with_range(key("task.odor.glomeruli", T::integer, "100", "projection output dimension"), 1, kInf));
  add(with_range(key("task.odor.sparsity", T::number, "0.1", "sparse projection: fraction of non-zero entries"), 0, 1,
                 true));
  add(with_range(key("task.odor.projection_seed", T::integer, "0", "seed of the projection"), 0, 9.2e18));
  add(with_range(key("task.odor.input_noise", T::number, "0", "stddev of Gaussian noise on each projected input"), 0,
                 kInf));
  add(with_choices(key("task.odor.balance", T::string, "repeat",
                       "class balance: repeat the target, weights (example weights) or none"),
                   {"none", "repeat", "weights"}));
  add(with_range(key("task.clusters.classes", T::integer, "3", "classes"), 2, kInf));
  add(with_range(key("task.clusters.dim", T::integer, "10", "input dimension"), 1, kInf));
  add(with_range(key("task.clusters.train_per_class", T::integer, "100", "training examples per class"), 1, kInf));
  add(with_range(key("task.clusters.test_per_class", T::integer, "100", "held-out examples per class"), 0, kInf));
  add(with_range(key("task.clusters.separation", T::number, "3", "distance of each class centre from the origin"), 0,
                 kInf));
  add(with_range(key("task.clusters.stddev", T::number, "1", "within-class spread"), 0, kInf, true));
  add(with_range(key("task.separable.dim", T::integer, "10", "input dimension"), 1, kInf));
  add(with_range(key("task.separable.train", T::integer, "200", "training examples"), 2, kInf));
  add(with_range(key("task.separable.test", T::integer, "200", "held-out examples"), 0, kInf));
  add(with_range(key("task.separable.margin", T::number, "0.5", "the max margin of the data"), 0, kInf, true));
  add(with_range(key("task.separable.spread", T::number, "1", "spread beyond the margin"), 0, kInf, true));
  add(with_range(key("task.teacher_student.input_dim", T::integer, "32", "input dimension"), 1, kInf));
  add(with_range(key("task.teacher_student.teacher_width", T::integer, "16", "teacher hidden width"), 1, kInf));
  add(with_range(key("task.teacher_student.train", T::integer, "512", "training examples"), 2, kInf));
  add(with_range(key("task.teacher_student.test", T::integer, "512", "held-out examples"), 0, kInf));
  add(with_range(key("task.sparse_parity.bits", T::integer, "20", "input bits"), 1, 62));
  add(with_range(key("task.sparse_parity.relevant", T::integer, "3", "bits the label depends on"), 1, 62));
  add(with_range(key("task.sparse_parity.train", T::integer, "1000", "training examples"), 2, kInf));
  add(with_range(key("task.sparse_parity.test", T::integer, "1000", "held-out examples"), 0, kInf));
  add(with_range(key("task.modular.p", T::integer, "97", "modulus: all pairs (a, b), label (a + b) mod p"), 2, 1000));
  add(with_range(key("task.modular.train_fraction", T::number, "0.5", "fraction of pairs in the training set"), 0, 1,
                 true));
  add(key("task.file.path", T::string, "", "npz / csv: the data file (relative paths: to the config file)"));
  add(key("task.file.label_column", T::string, "label", "csv: the label column"));
  add(key("task.file.feature_columns", T::string_list, "[]", "csv: feature columns (empty: all others)"));
  add(key("task.file.group_column", T::string, "", "csv: the group column (empty: every row trains)"));
  add(key("task.file.train_group", T::string, "train", "csv: the group value of training rows"));
  // Model.
  add(with_choices(key("model.kind", T::string, "mlp", "mlp, or bionet (the biologically plausible variant)"),
                   {"mlp", "bionet"}));
  add(with_range(key("model.hidden", T::integer_list, "[500]", "mlp: hidden widths ([] = a linear model)"), 1, kInf));
  add(with_choices(
      key("model.activation", T::string, "relu", "mlp: identity, relu, leaky_relu, tanh, sigmoid, gelu or quadratic"),
      {"identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "quadratic"}));
  add(with_range(key("model.slope", T::number, "0.01", "leaky_relu negative slope"), 0, kInf));
  add(with_choices(key("model.parameterization", T::string, "mean_field",
                       "mlp: standard, ntk or mean_field (f = a . h / (gamma N))"),
                   {"standard", "ntk", "mean_field"}));
  add(per_model(
      with_range(key("model.gamma", T::number, "1", "mean-field richness (small: lazy; 1: rich)"), 0, kInf, true)));
  add(per_model(with_range(key("model.init_scale", T::number, "1", "initialization scale s"), 0, kInf, true)));
  add(key("model.bias", T::boolean, "false", "biases in every layer"));
  add(with_range(key("model.dropout", T::number, "0", "mlp: dropout after each hidden layer"), 0, 0.999));
  add(with_range(key("model.noise", T::number, "0", "mlp: Gaussian noise stddev on hidden pre-activations"), 0, kInf));
  add(with_range(key("model.outputs", T::integer, "0",
                     "outputs; 0 = auto: 1 for two classes with the logistic or hinge loss, else the classes"),
                 0, kInf));
  add(with_range(key("model.bionet.width", T::integer, "500", "bionet: wide ReLU and associative layer width"), 1,
                 kInf));
  add(with_range(key("model.bionet.narrow", T::integer, "100", "bionet: LeakyReLU layer width"), 1, kInf));
  add(with_range(key("model.bionet.dropout1", T::number, "0.2", "bionet: dropout after the wide layer"), 0, 0.999));
  add(with_range(key("model.bionet.dropout2", T::number, "0.3", "bionet: dropout after the narrow layer"), 0, 0.999));
  add(with_range(key("model.bionet.noise", T::number, "0.1", "bionet: Gaussian noise stddev on pre-activations"), 0,
                 kInf));
  // Loss.
  add(with_choices(key("loss.kind", T::string, "logistic",
                       "cross_entropy (softmax), logistic (binary cross-entropy), hinge or squared_error"),
                   {"cross_entropy", "logistic", "hinge", "squared_error"}));
  add(with_range(key("loss.margin", T::number, "1", "hinge margin"), 0, kInf, true));
  // Optimizer.
  add(with_choices(key("optimizer.kind", T::string, "sgd", "sgd, momentum, nesterov, adam or adamw"),
                   {"sgd", "momentum", "nesterov", "adam", "adamw"}));
  add(per_model(with_range(key("optimizer.lr", T::number, "0.01", "learning rate"), 0, kInf, true)));
  add(with_choices(
      key("optimizer.lr_scale", T::string, "none",
          "none, or mean_field: lr x gamma^2 N (N = the last hidden width), as the mean-field limit needs"),
      {"none", "mean_field"}));
  add(per_model(with_range(key("optimizer.weight_decay", T::number, "0", "L2 (decoupled for adamw)"), 0, kInf)));
  add(with_range(key("optimizer.momentum", T::number, "0.9", "momentum / nesterov coefficient"), 0, 1));
  add(with_range(key("optimizer.beta1", T::number, "0.9", "adam beta1"), 0, 1));
  add(with_range(key("optimizer.beta2", T::number, "0.999", "adam beta2"), 0, 1));
  add(with_range(key("optimizer.eps", T::number, "1e-8", "adam epsilon"), 0, kInf, true));
  add(with_choices(key("optimizer.schedule", T::string, "constant", "learning-rate schedule: constant, step, cosine"),
                   {"constant", "step", "cosine"}));
  add(with_range(key("optimizer.warmup_steps", T::integer, "0", "linear warm-up steps"), 0, kInf));
  add(with_range(key("optimizer.step_size", T::integer, "1000", "step schedule: steps between decays"), 1, kInf));
  add(with_range(key("optimizer.decay", T::number, "0.1", "step schedule: factor per decay"), 0, 1, true));
  add(with_range(key("optimizer.min_factor", T::number, "0", "cosine schedule: final factor"), 0, 1));
  // Metrics.
  add(with_range(key("metrics.every", T::integer, "1", "a row of per-step statistics every this many steps"), 1, kInf));
  add(with_range(key("metrics.log_every", T::integer, "1000",
                     "copy rows to the host and files at least this often (a multiple of every)"),
                 1, kInf));
  add(with_range(key("metrics.probe_every", T::integer, "1000",
                     "periodic statistics (SVM, probes, Fisher, RSA, alignment, PGD) every this many steps; 0: at the "
                     "end only"),
                 0, kInf));
  add(with_range(key("metrics.onset_window", T::integer, "100",
                     "steps train accuracy must stay at 100% to confirm the groove onset"),
                 0, kInf));
  add(key("metrics.examples", T::boolean, "true", "write examples.npy (per-example margins of every row)"));
  add(key("metrics.snapshots", T::boolean, "true", "hidden-layer snapshots at log-spaced steps"));
  add(with_range(key("metrics.snapshot_examples", T::integer, "256", "examples per snapshot"), 1, kInf));
  add(key("metrics.svm", T::boolean, "true", "hard-margin SVM of the hidden layer"));
  add(key("metrics.ridge", T::boolean, "true", "ridge probe"));
  add(key("metrics.logistic", T::boolean, "true", "logistic probe"));
  add(key("metrics.fisher", T::boolean, "true", "Fisher discriminants per group"));
  add(with_range(key("metrics.fisher_target_class", T::integer, "1", "the target class of the Fisher discriminants"), 0,
                 kInf));
  add(key("metrics.rsa", T::boolean, "true", "RSM of class and group means"));
  add(key("metrics.kernel_alignment", T::boolean, "true", "kernel-target alignment"));
  add(with_range(key("metrics.pgd_epsilon", T::number, "0", "L-infinity PGD radius on held-out inputs (0: off)"), 0,
                 kInf));
  add(with_range(key("metrics.pgd_steps", T::integer, "10", "PGD ascent steps"), 1, kInf));
  // Reversal (groove reversal).
  add(with_range(
      key("reversal.pretrain_steps", T::integer_list, "[0, 1000, 3000, 10000]", "phase-1 lengths T to compare"), 0,
      2147483647));
  add(with_range(key("reversal.steps", T::integer, "5000", "phase-2 steps on the reversed labels"), 1, 2147483647));
  add(with_range(key("reversal.loss_criterion", T::number, "0.1", "phase 2: steps until the train loss is below"), 0,
                 kInf, true));
  add(with_range(key("reversal.accuracy_criterion", T::number, "1", "phase 2: steps until train accuracy reaches"), 0,
                 1, true));
  add(with_choices(key("reversal.networks", T::string_list, "[mlp, linear]",
                       "mlp: the configured model; linear: the two-layer linear mean-field network"),
                   {"mlp", "linear"}));
  return s;
}

// Levenshtein distance.
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string last_part(const std::string& key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string type_name(KeyType t) {
  switch (t) {
    case KeyType::integer:
      return "an integer";
    case KeyType::number:
      return "a number";
    case KeyType::boolean:
      return "true or false";
    case KeyType::string:
      return "a string";
    case KeyType::integer_list:
      return "a list of integers";
    case KeyType::number_list:
      return "a list of numbers";
    case KeyType::string_list:
      return "a list of strings";
  }
  return "?";
}

std::string where_of(const std::string& source, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return source;
  return source + ":" + std::to_string(m.line + 1);
}

std::string node_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}

bool parse_integer(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || errno != 0) {
    // Accept whole numbers written as floats (1e4) when exact.
    char* fend = nullptr;
    const double d = std::strtod(s.c_str(), &fend);
    if (fend == s.c_str() || *fend != '\0' || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.2e18)
      return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  out = v;
  return true;
}

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return false;
  out = d;
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "yes" || s == "on") {
    out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "no" || s == "off") {
    out = false;
    return true;
  }
  return false;
}

std::string range_text(const KeyInfo& info) {
  std::ostringstream o;
  const bool lo = info.min > -kInf, hi = info.max < kInf;
  if (lo && hi) {
    o << "in " << (info.min_exclusive ? "(" : "[") << metrics::csv_number(info.min) << ", "
      << metrics::csv_number(info.max) << "]";
  } else if (lo) {
    o << (info.min_exclusive ? "> " : ">= ") << metrics::csv_number(info.min);
  } else if (hi) {
    o << "<= " << metrics::csv_number(info.max);
  }
  return o.str();
}

// Checks one scalar element; returns canonical text.
std::string check_scalar(const KeyInfo& info, KeyType elem, const YAML::Node& node, const std::string& where) {
  const std::string what = where + ": " + info.key;
  if (elem == KeyType::string && node.IsNull() && info.choices.empty()) return "";
  GROOVE_CHECK(node.IsScalar(), what, ": expected ", type_name(elem), ", got '", node_text(node), "'");
  const std::string s = node.Scalar();
  auto in_range = [&](double v) {
    const bool ok = (info.min_exclusive ? v > info.min : v >= info.min) && v <= info.max && !std::isnan(v);
    GROOVE_CHECK(ok, what, " must be ", range_text(info), ", got ", s);
  };
  switch (elem) {
    case KeyType::integer: {
      std::int64_t v = 0;
      GROOVE_CHECK(parse_integer(s, v), what, ": expected an integer, got '", s, "'");
      in_range(static_cast<double>(v));
      return std::to_string(v);
    }
    case KeyType::number: {
      double v = 0;
      GROOVE_CHECK(parse_number(s, v), what, ": expected a number, got '", s, "'");
      in_range(v);
      return metrics::csv_number(v);
    }
    case KeyType::boolean: {
      bool v = false;
      GROOVE_CHECK(parse_bool(s, v), what, ": expected true or false, got '", s, "'");
      return v ? "true" : "false";
    }
    default: {
      if (!info.choices.empty()) {
        const bool ok = std::find(info.choices.begin(), info.choices.end(), s) != info.choices.end();
        if (!ok) {
          std::string list, best;
          std::size_t best_d = std::numeric_limits<std::size_t>::max();
          for (const std::string& c : info.choices) {
            list += (list.empty() ? "" : ", ") + c;
            const std::size_t d = distance(s, c);
            if (d < best_d) best_d = d, best = c;
          }
          GROOVE_THROW(what, ": '", s, "' is not one of ", list, best_d <= 3 ? " (did you mean '" + best + "'?)" : "");
        }
      }
      return s;
    }
  }
}

}  // namespace

const std::vector<KeyInfo>& schema() {
  static const std::vector<KeyInfo> s = make_schema();
  return s;
}

const KeyInfo* find_key(const std::string& key) {
  return find_key(schema(), key);
}

const KeyInfo* find_key(const std::vector<KeyInfo>& keys, const std::string& key) {
  for (const KeyInfo& k : keys) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::string nearest_key(const std::string& key) {
  return nearest_key(schema(), key);
}

std::string nearest_key(const std::vector<KeyInfo>& keys, const std::string& key) {
  std::string best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  const std::string tail = last_part(key);
  for (const KeyInfo& k : keys) {
    // A misspelt last part under the right section, or the right name under the wrong section.
    const std::size_t d = std::min(distance(key, k.key), distance(tail, last_part(k.key)) + 2);
    if (d < best_d) best_d = d, best = k.key;
  }
  for (const char* s : {"sweep.seeds", "sweep.grid", "sweep.zip"}) {
    if (&keys != &schema()) break;  // only training configs sweep
    const std::size_t d = distance(key, s);
    if (d < best_d) best_d = d, best = s;
  }
  return best;
}

std::string check_value(const KeyInfo& info, const YAML::Node& node, const std::string& where) {
  const bool list =
      info.type == KeyType::integer_list || info.type == KeyType::number_list || info.type == KeyType::string_list;
  if (!list) return check_scalar(info, info.type, node, where);
  const KeyType elem = info.type == KeyType::integer_list  ? KeyType::integer
                       : info.type == KeyType::number_list ? KeyType::number
                                                           : KeyType::string;
  // A single value where a list is expected is a one-element list ("model.hidden=256"). (Node
  // assignment writes through to the aliased node in yaml-cpp, so build a separate node.)
  YAML::Node seq = node.IsScalar() ? YAML::Load("[" + node.Scalar() + "]") : node;
  GROOVE_CHECK(seq.IsSequence(), where, ": ", info.key, ": expected ", type_name(info.type), ", got '", node_text(node),
               "'");
  std::string out = "[";
  for (std::size_t i = 0; i < seq.size(); ++i) {
    out += (i ? ", " : "") + check_scalar(info, elem, seq[i], where);
  }
  return out + "]";
}

std::string schema_markdown() {
  return schema_markdown(schema());
}

std::string schema_markdown(const std::vector<KeyInfo>& keys) {
  std::ostringstream o;
  o << "| key | type | default | allowed | meaning |\n| --- | --- | --- | --- | --- |\n";
  for (const KeyInfo& k : keys) {
    std::string allowed;
    for (const std::string& c : k.choices) allowed += (allowed.empty() ? "" : ", ") + c;
    if (allowed.empty()) allowed = range_text(k);
    std::string doc = k.doc;
    if (k.per_model) doc += " (may differ between the models of one ensemble)";
    std::string type = type_name(k.type);
    if (type.rfind("an ", 0) == 0) type = type.substr(3);
    if (type.rfind("a ", 0) == 0) type = type.substr(2);
    o << "| `" << k.key << "` | " << type << " | `" << (k.default_yaml.empty() ? "\"\"" : k.default_yaml) << "` | "
      << allowed << " | " << doc << " |\n";
  }
  return o.str();
}

// ---------------------------------------------------------------------------------------------
// Config

namespace {

// Expands one sweep axis value list.
std::vector<std::string> axis_values(const KeyInfo& info, const YAML::Node& node, const std::string& where) {
  std::vector<std::string> out;
  if (node.IsMap()) {
    GROOVE_CHECK(node.size() == 1, where, ": sweep axis ", info.key,
                 ": expected a list, {range: [start, stop, step]} or {logrange: [start, stop, num]}");
    const auto first = node.begin();
    const YAML::Node kind_node = first->first;
    const YAML::Node args = first->second;
    const std::string kind = kind_node.as<std::string>();
    GROOVE_CHECK(kind == "range" || kind == "logrange", where, ": sweep axis ", info.key, ": unknown '", kind,
                 "' (expected range or logrange)");
    GROOVE_CHECK(args.IsSequence() && args.size() == 3, where, ": sweep axis ", info.key, ": ", kind,
                 " needs three numbers [start, stop, ", kind == "range" ? "step" : "num", "]");
    double a[3];
    for (int i = 0; i < 3; ++i) {
      GROOVE_CHECK(args[i].IsScalar() && parse_number(args[i].Scalar(), a[i]), where, ": sweep axis ", info.key, ": ",
                   kind, " argument ", i + 1, " is not a number");
    }
    const bool integer = info.type == KeyType::integer || info.type == KeyType::integer_list;
    if (kind == "range") {
      // [start, stop) with a positive step; stop included when it lands on the grid (within 1e-9).
      GROOVE_CHECK(a[2] > 0, where, ": sweep axis ", info.key, ": range step must be > 0, got ", a[2]);
      const double n_f = std::floor((a[1] - a[0]) / a[2] + 1e-9);
      GROOVE_CHECK(n_f >= 0 && n_f < 1e6, where, ": sweep axis ", info.key, ": range gives no values or too many");
      for (std::int64_t i = 0; i <= static_cast<std::int64_t>(n_f); ++i) {
        // Rounded to 12 significant digits, so 0.1 + 2 x 0.1 is 0.3.
        double v = a[0] + static_cast<double>(i) * a[2];
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.12g", v);
        v = std::strtod(buf, nullptr);
        out.push_back(integer ? std::to_string(static_cast<std::int64_t>(std::llround(v))) : metrics::csv_number(v));
      }
    } else {
      GROOVE_CHECK(a[0] > 0 && a[1] > 0, where, ": sweep axis ", info.key, ": logrange needs start and stop > 0");
      const auto num = static_cast<std::int64_t>(a[2]);
      GROOVE_CHECK(num >= 1 && static_cast<double>(num) == a[2] && num <= 1000000, where, ": sweep axis ", info.key,
                   ": logrange num must be a whole number >= 1, got ", a[2]);
      for (std::int64_t i = 0; i < num; ++i) {
        const double t = num == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(num - 1);
        double v = std::exp(std::log(a[0]) + t * (std::log(a[1]) - std::log(a[0])));
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.12g", v);  // 12 significant digits: 0.1, not 0.10000000000000002
        v = std::strtod(buf, nullptr);
        if (i == 0) v = a[0];
        if (i == num - 1) v = a[1];
        out.push_back(integer ? std::to_string(static_cast<std::int64_t>(std::llround(v))) : metrics::csv_number(v));
      }
      if (integer) out.erase(std::unique(out.begin(), out.end()), out.end());
    }
  } else {
    GROOVE_CHECK(node.IsSequence() && node.size() >= 1, where, ": sweep axis ", info.key,
                 ": expected a non-empty list of values, {range: ...} or {logrange: ...}, got '", node_text(node), "'");
    for (std::size_t i = 0; i < node.size(); ++i) out.push_back(node_text(node[i]));
  }
  // Every value must be valid for the key.
  std::vector<std::string> checked;
  for (const std::string& v : out) checked.push_back(check_value(info, YAML::Load(v), where + " (sweep axis)"));
  return checked;
}

void read_axes(const YAML::Node& node, const std::string& kind, const std::string& source, std::vector<Axis>& into) {
  GROOVE_CHECK(node.IsMap(), where_of(source, node), ": sweep.", kind,
               ": expected a map of config keys to value lists, got '", node_text(node), "'");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node value = it->second;
    const std::string k = key_node.as<std::string>();
    const std::string where = where_of(source, key_node);
    const KeyInfo* info = find_key(k);
    GROOVE_CHECK(info != nullptr, where, ": sweep.", kind, ": unknown key '", k, "' (did you mean '", nearest_key(k),
                 "'?)");
    GROOVE_CHECK(k != "seed", where, ": sweep.", kind, ": sweep seeds with sweep.seeds: N");
    for (const Axis& a : into) GROOVE_CHECK(a.key != k, where, ": sweep.", kind, ": key '", k, "' appears twice");
    into.push_back(Axis{k, axis_values(*info, value, where), where});
  }
}

void set_sweep(SweepAxes& axes, const std::string& key, const YAML::Node& node, const std::string& where,
               const std::string& source) {
  if (key == "sweep.seeds") {
    std::int64_t n = 0;
    GROOVE_CHECK(node.IsScalar() && parse_integer(node.Scalar(), n) && n >= 1 && n <= 1000000, where,
                 ": sweep.seeds must be an integer >= 1, got '", node_text(node), "'");
    axes.seeds = n;
  } else if (key == "sweep.grid" || key == "sweep.zip") {
    std::vector<Axis>& into = key == "sweep.grid" ? axes.grid : axes.zip;
    into.clear();
    if (!node.IsNull()) read_axes(node, key.substr(6), source, into);
  } else if (key.rfind("sweep.grid.", 0) == 0 || key.rfind("sweep.zip.", 0) == 0) {
    // One axis from the command line: sweep.grid.model.gamma=[0.1, 1].
    const bool grid = key.rfind("sweep.grid.", 0) == 0;
    const std::string k = key.substr(grid ? 11 : 10);
    const KeyInfo* info = find_key(k);
    GROOVE_CHECK(info != nullptr, where, ": ", key, ": unknown key '", k, "' (did you mean '", nearest_key(k), "'?)");
    std::vector<Axis>& into = grid ? axes.grid : axes.zip;
    into.erase(std::remove_if(into.begin(), into.end(), [&](const Axis& a) { return a.key == k; }), into.end());
    if (!node.IsNull()) into.push_back(Axis{k, axis_values(*info, node, where), where});
  } else {
    GROOVE_THROW(where, ": unknown key '", key, "' (did you mean '", nearest_key(key), "'?)");
  }
}

// Walks a YAML map, calling fn(dotted key, node) for every leaf; maps under sweep.grid / sweep.zip
// are leaves.
template <typename Fn>
void walk(const std::vector<KeyInfo>& keys, const YAML::Node& node, const std::string& prefix,
          const std::string& source, Fn&& fn) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;
    const YAML::Node v = it->second;
    GROOVE_CHECK(key_node.IsScalar(), where_of(source, key_node), ": keys must be plain names");
    const std::string k = prefix.empty() ? key_node.Scalar() : prefix + "." + key_node.Scalar();
    const bool section = v.IsMap() && find_key(keys, k) == nullptr && k != "sweep.grid" && k != "sweep.zip";
    if (section) {
      walk(keys, v, k, source, fn);
    } else {
      fn(k, key_node, v);
    }
  }
}

}  // namespace

Config Config::parse(const std::string& yaml_text, const std::string& what, const std::vector<std::string>& overrides,
                     const std::vector<KeyInfo>* keys) {
  Config c;
  c.source_ = what;
  if (keys != nullptr) c.keys_ = keys;
  const bool training = c.keys_ == &schema();
  for (const KeyInfo& k : *c.keys_)
    c.values_[k.key] = Setting{check_value(k, YAML::Load(k.default_yaml), "default"), "default"};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    GROOVE_THROW(what, ":", e.mark.line + 1, ": not valid YAML: ", e.msg);
  }
  if (!root.IsNull()) {
    GROOVE_CHECK(root.IsMap(), what, ": expected a map of settings at the top level");
    std::set<std::string> seen;
    walk(*c.keys_, root, "", what, [&](const std::string& k, const YAML::Node& key_node, const YAML::Node& v) {
      const std::string where = where_of(what, key_node);
      GROOVE_CHECK(seen.insert(k).second, where, ": key '", k, "' is set twice");
      if (training && (k.rfind("sweep.", 0) == 0 || k == "sweep")) {
        GROOVE_CHECK(k != "sweep", where, ": sweep: expected a map (seeds, grid, zip)");
        set_sweep(c.axes_, k, v, where, what);
        return;
      }
      const KeyInfo* info = find_key(*c.keys_, k);
      GROOVE_CHECK(info != nullptr, where, ": unknown key '", k, "' (did you mean '", nearest_key(*c.keys_, k), "'?)");
      c.values_[k] = Setting{check_value(*info, v, where), where};
    });
  }
  for (const std::string& o : overrides) {
    const std::size_t eq = o.find('=');
    GROOVE_CHECK(eq != std::string::npos && eq > 0, "override '", o, "': expected key=value");
    const std::string k = o.substr(0, eq);
    const std::string where = "override '" + o + "'";
    YAML::Node v;
    try {
      v = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      GROOVE_THROW(where, ": the value is not valid YAML: ", e.msg);
    }
    if (training && k.rfind("sweep.", 0) == 0) {
      set_sweep(c.axes_, k, v, where, where);
      continue;
    }
    c.set(k, o.substr(eq + 1), where);
  }
  if (!training) return c;  // other schemas check their cross-key rules themselves
  // Cross-key checks.
  const std::int64_t every = c.integer("metrics.every");
  GROOVE_CHECK(c.integer("metrics.log_every") % every == 0, c.setting("metrics.log_every").where,
               ": metrics.log_every (", c.integer("metrics.log_every"), ") must be a multiple of metrics.every (",
               every, ")");
  GROOVE_CHECK(c.integer("metrics.probe_every") % every == 0, c.setting("metrics.probe_every").where,
               ": metrics.probe_every (", c.integer("metrics.probe_every"), ") must be a multiple of metrics.every (",
               every, ")");
  if (!c.axes_.zip.empty()) {
    for (const Axis& a : c.axes_.zip) {
      GROOVE_CHECK(a.values.size() == c.axes_.zip[0].values.size(), a.where, ": sweep.zip: ", a.key, " has ",
                   a.values.size(), " values but ", c.axes_.zip[0].key, " has ", c.axes_.zip[0].values.size(),
                   " (zipped lists must have the same length)");
    }
  }
  for (const Axis& a : c.axes_.zip) {
    for (const Axis& g : c.axes_.grid) {
      GROOVE_CHECK(a.key != g.key, a.where, ": ", a.key, " is both a grid and a zip axis");
    }
  }
  return c;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides,
                    const std::vector<KeyInfo>* keys) {
  std::ifstream in(path, std::ios::binary);
  GROOVE_CHECK(in.good(), "cannot open the config file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, overrides, keys);
}

std::vector<std::string> Config::overrides_from_args(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) == 0) {
      const std::string body = a.substr(2);
      if (body.find('=') != std::string::npos) {
        out.push_back(body);
      } else {
        GROOVE_CHECK(i + 1 < args.size(), "option '", a, "' needs a value (--key value or key=value)");
        out.push_back(body + "=" + args[++i]);
      }
    } else {
      GROOVE_CHECK(a.find('=') != std::string::npos && a[0] != '=', "argument '", a,
                   "' is not an override (key=value or --key value)");
      out.push_back(a);
    }
  }
  return out;
}

void Config::set(const std::string& key, const std::string& yaml_value, const std::string& where) {
  const KeyInfo* info = find_key(*keys_, key);
  GROOVE_CHECK(info != nullptr, where, ": unknown key '", key, "' (did you mean '", nearest_key(*keys_, key), "'?)");
  YAML::Node v;
  try {
    v = YAML::Load(yaml_value);
  } catch (const YAML::Exception& e) {
    GROOVE_THROW(where, ": ", key, ": the value is not valid YAML: ", e.msg);
  }
  values_[key] = Setting{check_value(*info, v, where), where};
}

const Setting& Config::setting(const std::string& key) const {
  auto it = values_.find(key);
  GROOVE_CHECK(it != values_.end(), "config: no key '", key, "'");
  return it->second;
}

std::int64_t Config::integer(const std::string& key) const {
  std::int64_t v = 0;
  GROOVE_CHECK(parse_integer(setting(key).yaml, v), "config: ", key, " is not an integer");
  return v;
}
double Config::number(const std::string& key) const {
  double v = 0;
  GROOVE_CHECK(parse_number(setting(key).yaml, v), "config: ", key, " is not a number");
  return v;
}
bool Config::boolean(const std::string& key) const {
  return setting(key).yaml == "true";
}
std::string Config::string(const std::string& key) const {
  return setting(key).yaml;
}
std::vector<std::int64_t> Config::integers(const std::string& key) const {
  std::vector<std::int64_t> out;
  for (const std::string& s : strings(key)) {
    std::int64_t v = 0;
    GROOVE_CHECK(parse_integer(s, v), "config: ", key, " has a non-integer element");
    out.push_back(v);
  }
  return out;
}
std::vector<double> Config::numbers(const std::string& key) const {
  std::vector<double> out;
  for (const std::string& s : strings(key)) {
    double v = 0;
    GROOVE_CHECK(parse_number(s, v), "config: ", key, " has a non-numeric element");
    out.push_back(v);
  }
  return out;
}
std::vector<std::string> Config::strings(const std::string& key) const {
  const YAML::Node n = YAML::Load(setting(key).yaml);
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) out.push_back(n[i].Scalar());
  } else if (n.IsScalar()) {
    out.push_back(n.Scalar());
  }
  return out;
}

std::string Config::canonical(const std::vector<std::string>& skip) const {
  std::string out;
  for (const auto& [k, v] : values_) {
    if (std::find(skip.begin(), skip.end(), k) != skip.end()) continue;
    out += k + ": " + v.yaml + "\n";
  }
  return out;
}

std::string Config::to_yaml(bool with_sweep) const {
  // Rebuild the nested form in schema order.
  YAML::Node root(YAML::NodeType::Map);
  for (const KeyInfo& k : *keys_) {
    std::vector<std::string> parts;
    std::stringstream ss(k.key);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    YAML::Node node;
    node.reset(root);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!node[parts[i]]) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      YAML::Node child = node[parts[i]];
      node.reset(child);
    }
    const std::string& v = values_.at(k.key).yaml;
    if (k.type == KeyType::string) {
      node[parts.back()] = v;
    } else {
      node[parts.back()] = YAML::Load(v);
    }
  }
  if (with_sweep) {
    YAML::Node sw(YAML::NodeType::Map);
    sw["seeds"] = axes_.seeds;
    for (const char* kind : {"grid", "zip"}) {
      const std::vector<Axis>& axes = std::string(kind) == "grid" ? axes_.grid : axes_.zip;
      if (axes.empty()) continue;
      YAML::Node m(YAML::NodeType::Map);
      for (const Axis& a : axes) {
        YAML::Node list(YAML::NodeType::Sequence);
        for (const std::string& v : a.values) list.push_back(YAML::Load(v));
        m[a.key] = list;
      }
      sw[kind] = m;
    }
    root["sweep"] = sw;
  }
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e << root;
  return std::string(e.c_str()) + "\n";
}

}  // namespace groove::sweep
