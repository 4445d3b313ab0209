// The runner behind groove run / sweep: datasets and models from configs, ensembles, checkpoints,
// signals, divergence, statuses and runs.csv.
#include "sweep/runner.h"

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kernels/stats_ops.h"
#include "metrics/monitor.h"
#include "metrics/writers.h"
#include "nn/bionet.h"
#include "nn/mlp.h"
#include "nn/optimizer.h"
#include "nn/trainer.h"
#include "runtime/build_info.h"
#include "runtime/error.h"
#include "runtime/npy.h"
#include "sweep/checkpoint.h"
#include "sweep/progress.h"
#include "sweep/runner_internal.h"
#include "sweep/shard.h"
#include "tasks/generators.h"
#include "tasks/loaders.h"

namespace fs = std::filesystem;

namespace groove::sweep {

namespace {

// ---------------------------------------------------------------------------------------------
// Signals: the handler only records the signal; the training loop checks it between chunks.

std::atomic<int> g_signal{0};

extern "C" void record_signal(int sig) {
  g_signal.store(sig);
}

class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction sa {};
    sa.sa_handler = record_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &old_[i]);
    g_signal.store(0);
  }
  ~SignalGuard() {
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &old_[i], nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  static constexpr int kSignals[3] = {SIGTERM, SIGINT, SIGUSR1};
  struct sigaction old_[3];
};

const char* signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGUSR1 ? "SIGUSR1" : "a signal";
}

// ---------------------------------------------------------------------------------------------
// Small file helpers

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GROOVE_CHECK(in.good(), "cannot open '", path, "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_status(const std::string& dir, const std::string& status, std::int64_t step, const std::string& message) {
  nlohmann::json j = {{"status", status}, {"step", step}, {"message", message}};
  write_file_atomic(dir + "/status.json", j.dump(2) + "\n");
}

// The part of a run's config a checkpoint must agree with to be resumed: everything but the
// settings that do not change what is computed (where results go, the device, the cadence of
// checkpoints, the progress display) and the run length.
std::string resume_key(const Config& c) {
  return c.canonical({"name", "out", "device", "checkpoint_every", "steps", "steps_per_graph"});
}

// ---------------------------------------------------------------------------------------------
// Per-model slices of the flat parameter buffer (and of optimizer states, which share its layout)

Tensor slice_tensor(const Tensor& flat_host, const ops::ParamSegments& seg, std::int64_t m) {
  std::int64_t n = 0;
  for (int i = 0; i < seg.count; ++i) n += seg.per_model[i];
  Tensor out = Tensor::host({n}, flat_host.dtype());
  const std::size_t elem = dtype_size(flat_host.dtype());
  std::int64_t o = 0;
  for (int i = 0; i < seg.count; ++i) {
    const std::int64_t base = seg.offset[i] + m * seg.per_model[i];
    std::memcpy(static_cast<char*>(out.raw()) + o * elem, static_cast<const char*>(flat_host.raw()) + base * elem,
                static_cast<std::size_t>(seg.per_model[i]) * elem);
    o += seg.per_model[i];
  }
  return out;
}

void put_slice(Tensor& flat_host, const ops::ParamSegments& seg, std::int64_t m, const Tensor& slice,
               const std::string& what) {
  std::int64_t n = 0;
  for (int i = 0; i < seg.count; ++i) n += seg.per_model[i];
  GROOVE_CHECK(slice.numel() == n && slice.dtype() == flat_host.dtype(), what, ": expected ", n, " ",
               dtype_name(flat_host.dtype()), " values, found ", slice.str());
  const std::size_t elem = dtype_size(flat_host.dtype());
  std::int64_t o = 0;
  for (int i = 0; i < seg.count; ++i) {
    const std::int64_t base = seg.offset[i] + m * seg.per_model[i];
    std::memcpy(static_cast<char*>(flat_host.raw()) + base * elem, static_cast<const char*>(slice.raw()) + o * elem,
                static_cast<std::size_t>(seg.per_model[i]) * elem);
    o += seg.per_model[i];
  }
}

// ---------------------------------------------------------------------------------------------
// runs.csv

std::string number_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number()) return metrics::csv_number(v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Writes `path` with one row per run from the run folders under `dir`.
void write_runs_csv(const std::string& dir, const std::vector<RunSpec>& runs, const std::string& path) {
  std::vector<std::string> axis_keys;
  if (!runs.empty()) {
    for (const auto& [k, v] : runs[0].hyper) axis_keys.push_back(k);
  }
  // Summary columns: the onset, then every final value (union, in order of first appearance).
  std::vector<std::string> final_keys;
  std::set<std::string> seen;
  std::vector<nlohmann::json> summaries(runs.size());
  std::vector<nlohmann::json> statuses(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string run_dir = dir + "/" + runs[i].id;
    try {
      if (fs::exists(run_dir + "/status.json"))
        statuses[i] = nlohmann::json::parse(read_text(run_dir + "/status.json"));
      if (fs::exists(run_dir + "/summary.json"))
        summaries[i] = nlohmann::json::parse(read_text(run_dir + "/summary.json"));
    } catch (const std::exception& e) {
      statuses[i] = {{"status", "failed"}, {"step", 0}, {"message", std::string("unreadable run files: ") + e.what()}};
    }
    if (summaries[i].is_object() && summaries[i].contains("final")) {
      for (auto it = summaries[i]["final"].begin(); it != summaries[i]["final"].end(); ++it) {
        if (seen.insert(it.key()).second) final_keys.push_back(it.key());
      }
    }
  }
  std::ostringstream o;
  o << "run_id,status,step,message";
  for (const std::string& k : axis_keys) o << "," << metrics::csv_field(k);
  o << ",onset_step,onset_provisional";
  for (const std::string& k : final_keys) o << "," << metrics::csv_field("final." + k);
  o << "\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const nlohmann::json& st = statuses[i];
    const bool has = st.is_object();
    o << metrics::csv_field(runs[i].id) << "," << (has ? st.value("status", "pending") : "pending") << ","
      << (has ? std::to_string(st.value("step", std::int64_t{0})) : "0") << ","
      << metrics::csv_field(has ? st.value("message", "") : "");
    for (const auto& [k, v] : runs[i].hyper) o << "," << metrics::csv_field(v);
    const nlohmann::json& s = summaries[i];
    const bool onset = s.is_object() && s.contains("onset") && s["onset"].is_object();
    o << "," << (onset ? number_text(s["onset"]["step"]) : "") << ","
      << (onset ? number_text(s["onset"]["provisional"]) : "");
    for (const std::string& k : final_keys) {
      o << "," << (s.is_object() && s.contains("final") && s["final"].contains(k) ? number_text(s["final"][k]) : "");
    }
    o << "\n";
  }
  write_file_atomic(path, o.str());
}

void write_sweep_json(const std::string& dir, const Config& base, const std::vector<RunSpec>& runs) {
  nlohmann::json axes = nlohmann::json::array();
  for (const Axis& a : base.axes().grid) axes.push_back(a.key);
  for (const Axis& a : base.axes().zip) axes.push_back(a.key);
  nlohmann::json j = {{"name", base.string("name")}, {"axes", axes},        {"seed_key", "seed"},
                      {"seeds", base.axes().seeds},  {"runs", runs.size()}, {"groove", build_info().version}};
  write_file_atomic(dir + "/sweep.json", j.dump(2) + "\n");
}

}  // namespace

namespace detail {

std::string config_dir(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

DType dtype_of(const Config& c) {
  return c.string("precision") == "fp64" ? DType::f64 : DType::f32;
}

Tensor as_dtype(const Tensor& t, DType dtype, Context& ctx) {
  if (!t.defined() || t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.shape(), dtype, ctx);
  ops::convert(out, t, ctx);
  return out;
}

std::unique_ptr<nn::Model> build_model(const Config& c, const std::vector<const Config*>& members, Context& ctx,
                                       std::int64_t input_dim, std::int64_t outputs) {
  nn::EnsembleSpec e;
  const auto k = static_cast<std::int64_t>(members.size());
  e.models = k;
  e.seeds.clear();
  e.init_scale.clear();
  e.gamma.clear();
  for (const Config* m : members) {
    e.seeds.push_back(static_cast<std::uint64_t>(m->integer("seed")));
    e.init_scale.push_back(m->number("model.init_scale"));
    e.gamma.push_back(m->number("model.gamma"));
  }
  e.dtype = dtype_of(c);
  if (c.string("model.kind") == "bionet") {
    nn::BioNetSpec s;
    s.input_dim = input_dim;
    s.width = c.integer("model.bionet.width");
    s.narrow = c.integer("model.bionet.narrow");
    s.output_dim = outputs;
    s.dropout1 = c.number("model.bionet.dropout1");
    s.dropout2 = c.number("model.bionet.dropout2");
    s.slope = c.number("model.slope");
    s.noise_stddev = c.number("model.bionet.noise");
    s.bias = c.boolean("model.bias");
    return std::make_unique<nn::BioNet>(ctx, s, e);
  }
  nn::MlpSpec s;
  s.input_dim = input_dim;
  s.hidden = c.integers("model.hidden");
  s.output_dim = outputs;
  s.activation = ops::parse_activation(c.string("model.activation"));
  s.slope = c.number("model.slope");
  s.parameterization = nn::parse_parameterization(c.string("model.parameterization"));
  s.bias = c.boolean("model.bias");
  s.dropout = c.number("model.dropout");
  s.noise_stddev = c.number("model.noise");
  return std::make_unique<nn::Mlp>(ctx, s, e);
}

nn::OptimizerSpec optimizer_spec(const Config& c, const std::vector<const Config*>& members, std::int64_t width) {
  nn::OptimizerSpec o;
  o.hyper.kind = nn::parse_optimizer(c.string("optimizer.kind"));
  o.hyper.momentum = c.number("optimizer.momentum");
  o.hyper.beta1 = c.number("optimizer.beta1");
  o.hyper.beta2 = c.number("optimizer.beta2");
  o.hyper.eps = c.number("optimizer.eps");
  o.hyper.schedule.kind = nn::parse_schedule(c.string("optimizer.schedule"));
  o.hyper.schedule.warmup_steps = c.integer("optimizer.warmup_steps");
  o.hyper.schedule.step_size = c.integer("optimizer.step_size");
  o.hyper.schedule.gamma = c.number("optimizer.decay");
  o.hyper.schedule.total_steps = c.integer("steps");
  o.hyper.schedule.min_factor = c.number("optimizer.min_factor");
  o.precision = nn::parse_precision(c.string("precision"));
  o.lr.clear();
  o.weight_decay.clear();
  for (const Config* m : members) {
    double lr = m->number("optimizer.lr");
    if (c.string("optimizer.lr_scale") == "mean_field") {
      const double g = m->number("model.gamma");
      lr *= g * g * static_cast<double>(width);
    }
    o.lr.push_back(lr);
    o.weight_decay.push_back(m->number("optimizer.weight_decay"));
  }
  return o;
}

nn::TrainerSpec trainer_spec(const Config& c, const std::vector<const Config*>& members) {
  nn::TrainerSpec ts;
  ts.loss.kind = nn::parse_loss(c.string("loss.kind"));
  ts.loss.margin = c.number("loss.margin");
  ts.batch_size = c.integer("batch_size");
  ts.seeds.clear();
  for (const Config* m : members) ts.seeds.push_back(static_cast<std::uint64_t>(m->integer("seed")));
  ts.steps_per_graph = static_cast<int>(c.integer("steps_per_graph"));
  return ts;
}

}  // namespace detail

namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Building an ensemble

struct Ensemble {
  std::unique_ptr<Context> ctx;
  tasks::Dataset data;  // on ctx
  nn::TrainData train;
  std::unique_ptr<nn::Model> model;
  std::unique_ptr<nn::Optimizer> optimizer;
  std::unique_ptr<nn::Trainer> trainer;
  std::unique_ptr<metrics::Monitor> monitor;
};

metrics::MonitorSpec monitor_spec(const Config& c) {
  metrics::MonitorSpec s;
  s.every = c.integer("metrics.every");
  s.log_every = c.integer("metrics.log_every");
  s.probe_every = c.integer("metrics.probe_every");
  s.onset_window = c.integer("metrics.onset_window");
  s.examples = c.boolean("metrics.examples");
  s.snapshots = c.boolean("metrics.snapshots");
  s.snapshot_examples = c.integer("metrics.snapshot_examples");
  s.periodic.svm = c.boolean("metrics.svm");
  s.periodic.ridge = c.boolean("metrics.ridge");
  s.periodic.logistic = c.boolean("metrics.logistic");
  s.periodic.fisher = c.boolean("metrics.fisher");
  s.periodic.fisher_target_class = static_cast<int>(c.integer("metrics.fisher_target_class"));
  s.periodic.rsa = c.boolean("metrics.rsa");
  s.periodic.kernel_alignment = c.boolean("metrics.kernel_alignment");
  s.periodic.pgd.epsilon = c.number("metrics.pgd_epsilon");
  s.periodic.pgd.steps = static_cast<int>(c.integer("metrics.pgd_steps"));
  return s;
}

// ---------------------------------------------------------------------------------------------
// One ensemble

struct Member {
  const RunSpec* run;
  std::string dir;
  std::optional<LoadedCheckpoint> checkpoint;
  std::int64_t diverged_at = -1;
  std::vector<double> last;  // last row seen
};

class Interrupted : public std::exception {
 public:
  explicit Interrupted(int sig) : sig_(sig) {}
  const char* what() const noexcept override { return "interrupted"; }
  int sig() const { return sig_; }

 private:
  int sig_;
};

struct GroupRunner {
  const Config* base;
  std::string base_dir;  // the config file's folder
  std::vector<Member> members;
  std::int64_t start_step = 0;
  const SweepOptions* options;
  std::string label;

  void save_checkpoints(Ensemble& e, bool final = false);
  void restore(Ensemble& e);
  void run();
};

// The flat buffers a checkpoint holds, by name: the parameters and the optimizer state this
// optimizer kind and precision keep (they share the parameters' flat layout, so one slice per
// model serves them all).
std::vector<std::pair<std::string, Tensor*>> checkpoint_buffers(Ensemble& e) {
  std::vector<std::pair<std::string, Tensor*>> out = {{"params", &e.model->params().flat_values()}};
  for (int i = 0; i < 2; ++i) {
    Tensor& t = e.optimizer->state(i);
    if (t.defined() && t.numel() > 0) out.emplace_back("optimizer.state" + std::to_string(i), &t);
  }
  Tensor& comp = e.optimizer->compensation();
  if (comp.defined() && comp.numel() > 0) out.emplace_back("optimizer.compensation", &comp);
  return out;
}

void GroupRunner::save_checkpoints(Ensemble& e, bool final) {
  // The final checkpoint only holds the final parameters (for users; it is never resumed from).
  if (!final) e.monitor->flush();
  const ops::ParamSegments seg = e.model->params().segments();
  std::vector<std::pair<std::string, Tensor>> host;
  for (const auto& [name, t] : checkpoint_buffers(e)) {
    if (!final || name == "params") host.emplace_back(name, t->to_host());
  }
  const std::int64_t step = e.trainer->steps_done();
  for (std::size_t m = 0; m < members.size(); ++m) {
    const auto mi = static_cast<std::int64_t>(m);
    Checkpoint ck;
    ck.step = step;
    for (const auto& [name, t] : host) ck.arrays.push_back(NamedTensor{name, slice_tensor(t, seg, mi)});
    nlohmann::json meta = {{"run_id", members[m].run->id},
                           {"step", step},
                           {"final", final},
                           {"config", resume_key(members[m].run->config)},
                           {"diverged_at", members[m].diverged_at},
                           {"groove", build_info().version}};
    if (!final) {
      const std::vector<double> st = e.monitor->state(mi);
      ck.arrays.push_back(
          NamedTensor{"monitor_state", Tensor::from_vector<double>({static_cast<std::int64_t>(st.size())}, st)});
    }
    ck.meta = meta.dump();
    save_checkpoint(members[m].dir + "/checkpoint", ck);
  }
}

void GroupRunner::restore(Ensemble& e) {
  const ops::ParamSegments seg = e.model->params().segments();
  for (const auto& [name, device] : checkpoint_buffers(e)) {
    Tensor host = device->to_host();
    for (std::size_t m = 0; m < members.size(); ++m) {
      const LoadedCheckpoint& ck = *members[m].checkpoint;
      const Tensor* saved = nullptr;
      for (const NamedTensor& t : ck.ckpt.arrays) {
        if (t.name == name) saved = &t.tensor;
      }
      GROOVE_CHECK(saved != nullptr, ck.path, ": the checkpoint has no array '", name, "'");
      put_slice(host, seg, static_cast<std::int64_t>(m), *saved, ck.path + ": " + name);
    }
    const Tensor back = host.to(*e.ctx);
    ops::copy(*device, back, *e.ctx);
  }
  e.ctx->synchronize();
}

void GroupRunner::run() {
  const Config& c = *base;
  Ensemble e;
  e.ctx = std::make_unique<Context>(resolve_device(c.string("device")));
  const tasks::Dataset host_data = build_dataset(c, base_dir);
  GROOVE_CHECK(host_data.num_classes >= 2, "task ", c.string("task.kind"),
               ": groove run needs a classification task (class labels)");
  e.data = host_data.to(*e.ctx);
  const tasks::Dataset::Split split = e.data.split("train", *e.ctx);
  e.train.x = split.x;
  e.train.labels = split.y;
  e.train.weights = split.weights;
  e.train.x = as_dtype(e.train.x, dtype_of(c), *e.ctx);
  e.train.weights = as_dtype(e.train.weights, dtype_of(c), *e.ctx);
  metrics::HeldOut held = e.data.held_out(*e.ctx);
  held.x = as_dtype(held.x, dtype_of(c), *e.ctx);
  std::vector<const Config*> configs;
  for (const Member& m : members) configs.push_back(&m.run->config);
  const std::int64_t outputs = model_outputs(c, host_data);
  e.model = build_model(c, configs, *e.ctx, host_data.dim(), outputs);
  const std::int64_t width = e.model->feature_dim() > 0 ? e.model->feature_dim() : host_data.dim();
  e.optimizer = std::make_unique<nn::Optimizer>(e.model->params(), optimizer_spec(c, configs, width));
  const nn::TrainerSpec ts = trainer_spec(c, configs);
  e.trainer = std::make_unique<nn::Trainer>(e.model->params(), e.model->forward_fn(), *e.optimizer, e.train, ts);
  if (start_step > 0) e.trainer->set_steps_done(start_step);

  metrics::MonitorSpec ms = monitor_spec(c);
  for (const Member& m : members) ms.run_dirs.push_back(m.dir);
  // Column indices for divergence and progress.
  const int col_loss = stats::kTrainLoss, col_acc = stats::kTrainAcc, col_margin = stats::kMarginMin,
            col_wnorm = stats::kWeightNorm;
  ms.on_row = [this, col_loss, col_wnorm](std::int64_t m, const std::vector<double>& row) {
    Member& mem = members[static_cast<std::size_t>(m)];
    mem.last = row;
    if (mem.diverged_at < 0 && (!std::isfinite(row[static_cast<std::size_t>(col_loss)]) ||
                                !std::isfinite(row[static_cast<std::size_t>(col_wnorm)]))) {
      mem.diverged_at = static_cast<std::int64_t>(row[0]);
    }
  };
  if (start_step > 0) {
    for (Member& m : members) {
      const Tensor* st = nullptr;
      for (const NamedTensor& t : m.checkpoint->ckpt.arrays) {
        if (t.name == "monitor_state") st = &t.tensor;
      }
      GROOVE_CHECK(st != nullptr && st->dtype() == DType::f64, m.checkpoint->path,
                   ": the checkpoint has no f64 array 'monitor_state'");
      ms.resume_states.push_back(st->to_vector<double>());
      const nlohmann::json meta = nlohmann::json::parse(m.checkpoint->ckpt.meta);
      m.diverged_at = meta.value("diverged_at", std::int64_t{-1});
    }
  }
  // summary.json extras are per run while the Monitor merges one object into every model's
  // summary, so the runner adds the run id and hyperparameters after finish().
  e.monitor = std::make_unique<metrics::Monitor>(*e.trainer, *e.model, e.train, held, ms);
  if (start_step > 0) restore(e);

  const std::int64_t steps = c.integer("steps");
  const std::int64_t ck_every = c.integer("checkpoint_every");
  std::unique_ptr<Progress> progress;
  if (options->progress) {
    progress = std::make_unique<Progress>(steps, progress_options_for_stderr(label));
    progress->update(e.trainer->steps_done());
  }
  // Chunks of about a quarter second, so a signal is answered quickly; chunk boundaries do not
  // change what is computed.
  std::int64_t chunk = 1;
  while (e.trainer->steps_done() < steps) {
    const std::int64_t done = e.trainer->steps_done();
    std::int64_t n = std::min(chunk, steps - done);
    if (ck_every > 0) n = std::min(n, (done / ck_every + 1) * ck_every - done);
    const auto t0 = std::chrono::steady_clock::now();
    e.monitor->run(n);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    chunk = std::max<std::int64_t>(
        1, std::min<std::int64_t>(
               chunk * 4, dt > 0 ? static_cast<std::int64_t>(static_cast<double>(n) * 0.25 / dt) + 1 : chunk * 4));
    const std::int64_t now = e.trainer->steps_done();
    if (progress) {
      double loss = 0, acc = 1, margin = 0;
      int counted = 0;
      for (const Member& m : members) {
        if (m.last.empty()) continue;
        loss += m.last[static_cast<std::size_t>(col_loss)];
        acc = std::min(acc, m.last[static_cast<std::size_t>(col_acc)]);
        margin += m.last[static_cast<std::size_t>(col_margin)];
        ++counted;
      }
      if (counted > 0) progress->update(now, {{"loss", loss / counted}, {"acc", acc}, {"margin", margin / counted}});
    }
    const int sig = g_signal.load();
    if (sig != 0) {
      save_checkpoints(e);
      for (const Member& m : members)
        write_status(m.dir, "interrupted", now, std::string("stopped by ") + signal_name(sig));
      if (progress) progress->finish("interrupted");
      throw Interrupted(sig);
    }
    if (ck_every > 0 && now % ck_every == 0 && now < steps) {
      save_checkpoints(e);
      for (const Member& m : members) write_status(m.dir, "running", now, "");
    }
    bool all_diverged = true;
    for (const Member& m : members) all_diverged = all_diverged && m.diverged_at >= 0;
    if (all_diverged) break;
  }
  e.monitor->finish();
  const std::int64_t end = e.trainer->steps_done();
  save_checkpoints(e, true);
  for (std::size_t m = 0; m < members.size(); ++m) {
    Member& mem = members[m];
    // Add the run's identity to its summary.
    nlohmann::json s = nlohmann::json::parse(e.monitor->summary_json(static_cast<std::int64_t>(m)));
    nlohmann::json hyper = nlohmann::json::object();
    for (const auto& [k, v] : mem.run->hyper) {
      char* endp = nullptr;
      const double d = std::strtod(v.c_str(), &endp);
      if (endp != v.c_str() && *endp == '\0') {
        const bool whole = d == std::floor(d) && std::fabs(d) < 9.0e15 && v.find_first_of(".eE") == std::string::npos;
        hyper[k] = whole ? nlohmann::json(static_cast<std::int64_t>(d)) : nlohmann::json(d);
      } else {
        hyper[k] = v;
      }
    }
    s.erase("model");  // the index inside the ensemble depends on how runs were grouped
    s["run_id"] = mem.run->id;
    s["hyper"] = hyper;
    s["status"] = mem.diverged_at >= 0 ? "diverged" : "done";
    if (mem.diverged_at >= 0) s["diverged_at"] = mem.diverged_at;
    write_file_atomic(mem.dir + "/summary.json", s.dump(2) + "\n");
    if (mem.diverged_at >= 0) {
      write_status(mem.dir, "diverged", mem.diverged_at,
                   "the loss or the parameters became non-finite at step " + std::to_string(mem.diverged_at));
    } else {
      write_status(mem.dir, "done", end, "");
    }
    write_file_atomic(mem.dir + "/DONE", "");
  }
  if (progress) progress->finish("done");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Data

tasks::Dataset build_dataset(const Config& c, const std::string& base_dir) {
  const std::string kind = c.string("task.kind");
  const auto seed = static_cast<std::uint64_t>(c.integer("task.seed"));
  const DType dt = dtype_of(c);
  Context host;
  auto path = [&]() {
    std::string p = c.string("task.file.path");
    GROOVE_CHECK(!p.empty(), c.setting("task.file.path").where, ": task.file.path is required for task.kind ", kind);
    if (fs::path(p).is_relative()) p = (fs::path(base_dir) / p).string();
    return p;
  };
  if (kind == "odor") {
    tasks::OdorSpec s;
    s.odorants = c.integer("task.odor.odorants");
    s.odor_size = c.integer("task.odor.odor_size");
    s.non_targets = c.integer("task.odor.non_targets");
    s.probe_overlaps = c.integers("task.odor.probe_overlaps");
    s.probes_per_group = c.integer("task.odor.probes_per_group");
    s.test_non_targets = c.integer("task.odor.test_non_targets");
    const std::string proj = c.string("task.odor.projection");
    s.projection = proj == "none"     ? tasks::Projection::none
                   : proj == "sparse" ? tasks::Projection::sparse
                                      : tasks::Projection::gaussian;
    s.glomeruli = c.integer("task.odor.glomeruli");
    s.sparsity = c.number("task.odor.sparsity");
    s.projection_seed = static_cast<std::uint64_t>(c.integer("task.odor.projection_seed"));
    s.input_noise = c.number("task.odor.input_noise");
    const std::string bal = c.string("task.odor.balance");
    s.balance = bal == "none"      ? tasks::Balance::none
                : bal == "weights" ? tasks::Balance::weights
                                   : tasks::Balance::repeat;
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_odor_task(s, host);
  }
  if (kind == "clusters") {
    tasks::ClustersSpec s;
    s.classes = c.integer("task.clusters.classes");
    s.dim = c.integer("task.clusters.dim");
    s.train_per_class = c.integer("task.clusters.train_per_class");
    s.test_per_class = c.integer("task.clusters.test_per_class");
    s.separation = c.number("task.clusters.separation");
    s.stddev = c.number("task.clusters.stddev");
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_clusters(s, host);
  }
  if (kind == "separable") {
    tasks::SeparableSpec s;
    s.dim = c.integer("task.separable.dim");
    s.train = c.integer("task.separable.train");
    s.test = c.integer("task.separable.test");
    s.margin = c.number("task.separable.margin");
    s.spread = c.number("task.separable.spread");
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_separable(s, host);
  }
  if (kind == "teacher_student") {
    tasks::TeacherStudentSpec s;
    s.input_dim = c.integer("task.teacher_student.input_dim");
    s.teacher_width = c.integer("task.teacher_student.teacher_width");
    s.train = c.integer("task.teacher_student.train");
    s.test = c.integer("task.teacher_student.test");
    s.classification = true;
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_teacher_student(s, host);
  }
  if (kind == "sparse_parity") {
    tasks::SparseParitySpec s;
    s.bits = c.integer("task.sparse_parity.bits");
    s.relevant = c.integer("task.sparse_parity.relevant");
    GROOVE_CHECK(s.relevant <= s.bits, c.setting("task.sparse_parity.relevant").where,
                 ": task.sparse_parity.relevant (", s.relevant, ") must be <= task.sparse_parity.bits (", s.bits, ")");
    s.train = c.integer("task.sparse_parity.train");
    s.test = c.integer("task.sparse_parity.test");
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_sparse_parity(s, host);
  }
  if (kind == "modular") {
    tasks::ModularSpec s;
    s.p = c.integer("task.modular.p");
    s.train_fraction = c.number("task.modular.train_fraction");
    s.seed = seed;
    s.dtype = dt;
    return tasks::make_modular_addition(s, host);
  }
  if (kind == "npz") return tasks::load_npz_dataset(path(), dt);
  // csv
  tasks::CsvOptions o;
  o.label_column = c.string("task.file.label_column");
  o.feature_columns = c.strings("task.file.feature_columns");
  o.group_column = c.string("task.file.group_column");
  o.train_group = c.string("task.file.train_group");
  o.dtype = dt;
  return tasks::load_csv_dataset(path(), o);
}

std::int64_t model_outputs(const Config& c, const tasks::Dataset& data) {
  const std::int64_t outputs = c.integer("model.outputs");
  if (outputs > 0) return outputs;
  const std::string loss = c.string("loss.kind");
  if (data.num_classes == 2 && (loss == "logistic" || loss == "hinge")) return 1;
  GROOVE_CHECK(loss != "logistic", c.setting("loss.kind").where, ": the logistic loss needs two classes; the task has ",
               data.num_classes, " (use cross_entropy)");
  return data.num_classes;
}

// ---------------------------------------------------------------------------------------------
// Sweep

SweepSummary run_sweep(const std::string& config_path, const SweepOptions& options) {
  std::ostream& out = options.out ? *options.out : std::cout;
  const Config base = Config::load(config_path, options.overrides);
  const std::vector<RunSpec> runs = expand(base);
  if (options.single_run) {
    GROOVE_CHECK(runs.size() == 1, config_path, ": groove run trains one run, but the config describes ", runs.size(),
                 " (sweep axes or sweep.seeds > 1): use groove sweep");
  }
  const Shard shard = resolve_shard(options.shard);
  SweepSummary summary;
  summary.dir = (fs::path(base.string("out")) / base.string("name")).string();
  summary.runs = static_cast<std::int64_t>(runs.size());
  const std::string base_dir = config_dir(config_path);

  std::vector<RunSpec> selected;
  for (const RunSpec& r : runs) {
    if (in_shard(r.index, shard)) selected.push_back(r);
  }
  summary.selected = static_cast<std::int64_t>(selected.size());
  const std::string shard_text = shard.count > 1 ? " (shard " + std::to_string(shard.index) + "/" +
                                                       std::to_string(shard.count) + " from " + shard.source + ")"
                                                 : "";

  if (options.dry_run) {
    const std::vector<Group> groups = group_runs(selected, options.max_models);
    out << "sweep " << base.string("name") << ": " << runs.size() << " runs" << shard_text << ", " << selected.size()
        << " in this shard, " << groups.size() << " ensemble" << (groups.size() == 1 ? "" : "s") << " by shape\n";
    std::int64_t peak = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const Config& c = selected[static_cast<std::size_t>(groups[g].runs[0])].config;
      DataShape d;
      const tasks::Dataset data = build_dataset(c, base_dir);
      d.train = data.group("train").indices.size();
      d.heldout = data.size() - d.train;
      d.dim = data.dim();
      d.classes = data.num_classes;
      d.groups = static_cast<std::int64_t>(data.groups.size()) - 1;
      const auto k = static_cast<std::int64_t>(groups[g].runs.size());
      const MemoryEstimate m = estimate_memory(c, k, d);
      peak = std::max(peak, m.total());
      std::string model = c.string("model.kind") == "bionet" ? "bionet" : "mlp " + c.setting("model.hidden").yaml;
      out << "  ensemble " << g << ": " << k << " model" << (k == 1 ? "" : "s") << ", task " << c.string("task.kind")
          << " (P=" << d.train << ", held-out " << d.heldout << ", D=" << d.dim << "), " << model << ", loss "
          << c.string("loss.kind") << ", " << c.integer("steps") << " steps, " << c.string("precision") << "; device "
          << "memory " << format_bytes(m.total()) << " (params " << format_bytes(m.params) << ", optimizer "
          << format_bytes(m.optimizer) << ", activations " << format_bytes(m.activations) << ", metrics "
          << format_bytes(m.metrics) << ", data " << format_bytes(m.data) << ")\n";
      out << "    runs:";
      const std::size_t show = std::min<std::size_t>(groups[g].runs.size(), 6);
      for (std::size_t i = 0; i < show; ++i) out << " " << selected[static_cast<std::size_t>(groups[g].runs[i])].id;
      if (groups[g].runs.size() > show) out << " ... (" << groups[g].runs.size() - show << " more)";
      out << "\n";
    }
    out << "predicted device memory: " << format_bytes(peak)
        << " (the largest ensemble; ensembles run one at a time)\n";
    return summary;
  }

  fs::create_directories(summary.dir);
  write_file_atomic(summary.dir + "/sweep.yaml", base.to_yaml(true));
  write_sweep_json(summary.dir, base, runs);

  // Which runs still need work, and from which step.
  std::vector<RunSpec> todo;
  std::vector<Member> members;
  for (const RunSpec& r : selected) {
    const std::string dir = summary.dir + "/" + r.id;
    if (fs::exists(dir + "/DONE")) {
      ++summary.skipped;
      continue;
    }
    Member m{nullptr, dir, std::nullopt, -1, {}};
    try {
      if (fs::exists(dir + "/checkpoint")) {
        m.checkpoint = load_checkpoint(dir + "/checkpoint");
        if (m.checkpoint) {
          for (const std::string& w : m.checkpoint->warnings) out << "groove: warning: " << r.id << ": " << w << "\n";
          const nlohmann::json meta = nlohmann::json::parse(m.checkpoint->ckpt.meta);
          GROOVE_CHECK(meta.value("config", std::string()) == resume_key(r.config), dir,
                       ": the checkpoint was written with a different configuration; delete the run folder to start "
                       "it over, or restore the configuration");
          if (meta.value("final", false)) m.checkpoint.reset();  // finished but DONE missing: redo from the start
        }
      }
    } catch (const std::exception& e) {
      // This run cannot resume (both checkpoints unreadable, another configuration): it fails,
      // with its files left as they are; the other runs go on.
      ++summary.failed;
      out << "groove: " << r.id << ": failed: " << e.what() << "\n";
      write_status(dir, "failed", 0, e.what());
      continue;
    }
    todo.push_back(r);
    members.push_back(std::move(m));
  }
  for (std::size_t i = 0; i < todo.size(); ++i) members[i].run = &todo[i];

  // Group by shape and by the step to resume from.
  std::vector<std::string> resume_steps;
  for (const Member& m : members) resume_steps.push_back(std::to_string(m.checkpoint ? m.checkpoint->ckpt.step : 0));
  const std::vector<Group> groups = group_runs(todo, options.max_models, resume_steps);
  out << "groove: " << base.string("name") << ": " << runs.size() << " run" << (runs.size() == 1 ? "" : "s")
      << shard_text << "; " << summary.skipped << " already done, " << todo.size() << " to train in " << groups.size()
      << " ensemble" << (groups.size() == 1 ? "" : "s") << " -> " << summary.dir << "\n";
  out.flush();

  SignalGuard signals;
  int interrupted_by = 0;
  for (std::size_t g = 0; g < groups.size() && interrupted_by == 0; ++g) {
    GroupRunner gr;
    gr.base = &todo[static_cast<std::size_t>(groups[g].runs[0])].config;
    gr.base_dir = base_dir;
    gr.options = &options;
    for (std::int64_t i : groups[g].runs) gr.members.push_back(members[static_cast<std::size_t>(i)]);
    gr.start_step = gr.members[0].checkpoint ? gr.members[0].checkpoint->ckpt.step : 0;
    gr.label = base.string("name") + " [" + std::to_string(g + 1) + "/" + std::to_string(groups.size()) + ", " +
               std::to_string(gr.members.size()) + " run" + (gr.members.size() == 1 ? "" : "s") + "]";
    for (const Member& m : gr.members) {
      fs::create_directories(m.dir);
      write_file_atomic(m.dir + "/config.yaml", m.run->config.to_yaml());
      write_status(m.dir, "running", gr.start_step, "");
    }
    if (gr.start_step > 0) out << "groove: " << gr.label << ": resuming from step " << gr.start_step << "\n";
    try {
      gr.run();
      for (const Member& m : gr.members) {
        if (m.diverged_at >= 0) {
          ++summary.diverged;
          out << "groove: " << m.run->id << ": diverged at step " << m.diverged_at << "\n";
        } else {
          ++summary.done;
        }
      }
    } catch (const Interrupted& e) {
      interrupted_by = e.sig();
      summary.interrupted += static_cast<std::int64_t>(gr.members.size());
    } catch (const std::exception& e) {
      summary.failed += static_cast<std::int64_t>(gr.members.size());
      for (const Member& m : gr.members) {
        try {
          write_status(m.dir, "failed", 0, e.what());
        } catch (const std::exception&) {
        }
        out << "groove: " << m.run->id << ": failed: " << e.what() << "\n";
      }
    }
  }
  // The runs not reached because of a signal stay as they are (pending or resumable).
  if (shard.count > 1) {
    fs::create_directories(summary.dir + "/shards");
    std::vector<RunSpec> mine;
    for (const RunSpec& r : selected) mine.push_back(r);
    write_runs_csv(
        summary.dir, mine,
        summary.dir + "/shards/runs-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".csv");
  } else {
    write_runs_csv(summary.dir, runs, summary.dir + "/runs.csv");
  }
  if (interrupted_by != 0) {
    out << "groove: stopped by " << signal_name(interrupted_by) << ": checkpoints written; run the same command "
        << "again to resume (exit code " << kExitRequeue << ": requeue me)\n";
    summary.exit_code = kExitRequeue;
  } else {
    summary.exit_code = summary.failed > 0 ? kExitError : kExitOk;
    out << "groove: " << summary.done << " done, " << summary.diverged << " diverged, " << summary.failed << " failed, "
        << summary.skipped << " skipped (already done)\n";
    if (shard.count > 1) {
      out << "groove: results in " << summary.dir << " (this shard's runs.csv: " << summary.dir << "/shards/); "
          << "when every shard is done: groove sweep --merge " << summary.dir << "\n";
    } else {
      out << "groove: results in " << summary.dir << " (runs.csv; plots: groove plot " << summary.dir << ")\n";
    }
  }
  return summary;
}

void merge_sweep(const std::string& dir) {
  const std::string path = dir + "/sweep.yaml";
  GROOVE_CHECK(fs::exists(path), dir, " is not a sweep folder (no sweep.yaml)");
  const Config base = Config::load(path);
  const std::vector<RunSpec> runs = expand(base);
  write_runs_csv(dir, runs, dir + "/runs.csv");
}

}  // namespace groove::sweep
