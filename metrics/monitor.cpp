// Monitor: the per-step observer (device ops only, captured with the step), the drain of the
// device ring through a pinned double buffer, the periodic statistics, events and files.
#include "metrics/monitor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "kernels/stats_ops.h"
#include "metrics/events.h"
#include "metrics/periodic.h"
#include "metrics/writers.h"
#include "runtime/async_copy.h"
#include "runtime/build_info.h"
#include "runtime/npy.h"

namespace groove::metrics {

namespace {

std::int64_t round_up(std::int64_t x, std::int64_t m) {
  return (x + m - 1) / m * m;
}

// The next step after `s` in 0, 1, 2, 5, 10, 20, 50, ...
std::int64_t next_log_step(std::int64_t s) {
  if (s < 1) return 1;
  std::int64_t decade = 1;
  while (decade * 10 <= s) decade *= 10;
  for (std::int64_t m : {1, 2, 5, 10}) {
    if (m * decade > s) return m * decade;
  }
  return 10 * decade;
}

}  // namespace

struct Monitor::Impl {
  // What is watched.
  nn::Trainer* trainer;
  const nn::Model* model;
  Context* ctx;
  nn::TrainData train;
  HeldOut held;
  MonitorSpec spec;
  ops::LossSpec loss_spec;
  std::int64_t k = 1, p = 0, q = 0, groups = 0, logit_classes = 1, classes = 2, layers = 0, features = 0;
  bool hidden = false;       // the model has a hidden layer (hidden-layer statistics)
  bool clean_train = false;  // train statistics need their own forward (minibatch, dropout or noise)
  double weight_sum = 0;
  std::vector<std::int32_t> train_class_host, held_class_host, held_group_host;

  // Device tensors of the per-step statistics.
  Tensor train_classes, held_classes;
  Tensor train_margins, held_margins, held_loss, held_log10, held_per_example;
  Tensor clean_loss, clean_log10, clean_per_example;
  Tensor means, train_dist, held_dist, norms, w0, scratch;
  Tensor ring_rows, ring_margins;
  ops::ParamSegments weight_segments, all_segments;
  Tape eval_tape;
  bool eval_recorded = false;
  Var eval_held_logits, eval_held_features, eval_train_logits, eval_train_features;

  // Ring and drain.
  std::int64_t ring = 1, drain_every = 1;
  std::int64_t next_row_step = 0;  // first step whose row is not yet enqueued for copy
  struct Pending {
    std::vector<std::int64_t> steps;
    bool active = false;
  };
  PinnedBuffer buffers[2];
  std::unique_ptr<StreamEvent> events[2];
  Pending pending[2];
  int current = 0;

  // Periodic statistics, snapshots.
  std::unique_ptr<Periodic> periodic;
  std::vector<std::string> columns;  // per-step + periodic
  std::int64_t per_step_columns = 0;
  std::map<std::int64_t, std::vector<std::vector<double>>> periodic_values;  // step -> [K][periodic cols]
  std::int64_t last_periodic = -1, last_snapshot = -1;
  std::vector<std::int64_t> snapshot_taken;

  // Events and files, per model.
  std::vector<std::unique_ptr<OnsetDetector>> onset;
  std::vector<std::unique_ptr<FlipTracker>> flips;
  std::vector<std::unique_ptr<GrowthTracker>> growth;
  std::vector<std::vector<double>> last_row;
  std::vector<std::unique_ptr<CsvWriter>> csv;
  std::vector<std::unique_ptr<NpyAppender>> npy;
  std::vector<std::string> summaries;
  bool finished = false;

  Impl(nn::Trainer& t, const nn::Model& m, const nn::TrainData& data, HeldOut h, MonitorSpec s)
      : trainer(&t),
        model(&m),
        ctx(&t.context()),
        train(data),
        held(std::move(h)),
        spec(std::move(s)),
        eval_tape(t.context()) {}

  void setup();
  void observe();
  void record_eval();
  void drain(bool final_row, std::int64_t final_step);
  void process(int buffer);
  void run_periodic(std::int64_t step);
  void snapshot(std::int64_t step);
  void write_summaries();
  void restore();
  std::int64_t next_snapshot_after(std::int64_t s) const;
};

// ---------------------------------------------------------------------------------------------
// Setup

void Monitor::Impl::setup() {
  const nn::ParamStore& params = model->params();
  k = params.models();
  GROOVE_CHECK(&params.context() == ctx, "monitor: the model and the trainer live on different contexts");
  GROOVE_CHECK(train.x.defined() && train.x.ndim() == 2, "monitor: train x must be [P, D], got ", train.x.str());
  GROOVE_CHECK(train.labels.defined(), "monitor: the statistics need class labels (train labels are undefined)");
  p = train.x.dim(0);
  logit_classes = model->output_dim();
  classes = std::max<std::int64_t>(2, logit_classes);
  loss_spec = trainer->spec().loss;
  GROOVE_CHECK(spec.every >= 1, "monitor: every must be >= 1, got ", spec.every);
  GROOVE_CHECK(spec.log_every >= spec.every && spec.log_every % spec.every == 0, "monitor: log_every (", spec.log_every,
               ") must be a positive multiple of every (", spec.every, ")");
  GROOVE_CHECK(spec.probe_every >= 0 && spec.probe_every % spec.every == 0, "monitor: probe_every (", spec.probe_every,
               ") must be 0 or a multiple of every (", spec.every, ")");
  GROOVE_CHECK(spec.onset_window >= 0, "monitor: onset_window must be >= 0, got ", spec.onset_window);
  GROOVE_CHECK(spec.run_dirs.empty() || static_cast<std::int64_t>(spec.run_dirs.size()) == k,
               "monitor: ", spec.run_dirs.size(), " run folders for ", k, " models");

  // Classes of the labels: C = 1 outputs take 0/1 or -1/+1 labels (class 1 = positive).
  auto class_of = [&](std::int32_t label, const char* what, std::int64_t i) {
    if (logit_classes == 1) return label > 0 ? 1 : 0;
    GROOVE_CHECK(label >= 0 && label < logit_classes, "monitor: ", what, " label ", label, " of example ", i,
                 " is outside [0, ", logit_classes, ")");
    return static_cast<int>(label);
  };
  const std::vector<std::int32_t> train_labels = train.labels.to_vector<std::int32_t>();
  for (std::size_t i = 0; i < train_labels.size(); ++i) {
    train_class_host.push_back(class_of(train_labels[i], "train", static_cast<std::int64_t>(i)));
  }
  train_classes =
      Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(train_class_host.size())}, train_class_host)
          .to(*ctx);
  if (train.weights.defined()) {
    const Tensor w = train.weights.to_host();
    for (std::int64_t i = 0; i < w.numel(); ++i) weight_sum += w.value(i);
  } else {
    weight_sum = static_cast<double>(p);
  }

  if (held.x.defined()) {
    GROOVE_CHECK(held.x.ndim() == 2 && held.x.dim(1) == train.x.dim(1) && held.x.dtype() == train.x.dtype(),
                 "monitor: held-out x must be [Q, ", train.x.dim(1), "] ", dtype_name(train.x.dtype()), ", got ",
                 held.x.str());
    q = held.x.dim(0);
    GROOVE_CHECK(held.labels.defined() && held.labels.shape() == Shape{q}, "monitor: held-out labels must be [", q,
                 "]");
    GROOVE_CHECK(held.groups.defined() && held.groups.shape() == Shape{q}, "monitor: held-out groups must be [", q,
                 "]");
    groups = static_cast<std::int64_t>(held.group_names.size());
    const std::vector<std::int32_t> labels = held.labels.to_vector<std::int32_t>();
    held_group_host = held.groups.to_vector<std::int32_t>();
    for (std::int64_t i = 0; i < q; ++i) {
      held_class_host.push_back(class_of(labels[static_cast<std::size_t>(i)], "held-out", i));
      const std::int32_t g = held_group_host[static_cast<std::size_t>(i)];
      GROOVE_CHECK(g >= 0 && g < groups, "monitor: held-out example ", i, " is in group ", g, " but there are ", groups,
                   " group names");
    }
    held_classes =
        Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(held_class_host.size())}, held_class_host)
            .to(*ctx);
  }

  // Weight layers: the parameters named "*.weight", in order.
  all_segments = params.segments();
  weight_segments = all_segments;
  weight_segments.count = 0;
  for (int i = 0; i < params.size(); ++i) {
    const std::string& name = params.name(i);
    if (name.size() >= 7 && name.compare(name.size() - 7, 7, ".weight") == 0) {
      weight_segments.offset[weight_segments.count] = all_segments.offset[i];
      weight_segments.per_model[weight_segments.count] = all_segments.per_model[i];
      ++weight_segments.count;
    }
  }
  layers = weight_segments.count;
  features = model->feature_dim();
  hidden = features > 0;
  clean_train = trainer->spec().batch_size > 0 || model->stochastic();

  // Buffers.
  const DType dt = params.dtype();
  train_margins = Tensor::empty({k, p}, DType::f64, *ctx);
  if (q > 0) {
    held_margins = Tensor::empty({k, q}, DType::f64, *ctx);
    held_loss = Tensor::empty({k}, dt, *ctx);
    held_log10 = Tensor::empty({k}, dt, *ctx);
    held_per_example = Tensor::empty({2, k, q}, DType::f64, *ctx);
  }
  if (clean_train) {
    clean_loss = Tensor::empty({k}, dt, *ctx);
    clean_log10 = Tensor::empty({k}, dt, *ctx);
    clean_per_example = Tensor::empty({2, k, p}, DType::f64, *ctx);
  }
  if (hidden) {
    means = Tensor::empty({k, classes, features}, dt, *ctx);
    train_dist = Tensor::empty({k, p, classes}, DType::f64, *ctx);
    if (q > 0) held_dist = Tensor::empty({k, q, classes}, DType::f64, *ctx);
  }
  norms = Tensor::empty({k, 3 * layers + 1}, DType::f64, *ctx);
  w0 = params.flat_values().to(*ctx);
  std::int64_t p2 = 1;
  while (p2 < p) p2 <<= 1;
  scratch = Tensor::empty({k, p2}, DType::f64, *ctx);

  // Columns and the ring: rows per drain bounded by the byte budget.
  std::vector<std::string> group_names = held.group_names;
  columns = stats::column_names(static_cast<int>(layers), group_names);
  per_step_columns = static_cast<std::int64_t>(columns.size());
  periodic = std::make_unique<Periodic>(*model, spec.periodic, classes, group_names, hidden, q > 0);
  for (const std::string& c : periodic->columns()) columns.push_back(c);
  const std::int64_t row_bytes = k * (per_step_columns * 8 + (spec.examples || q > 0 ? (p + q) * 4 : 0));
  const std::int64_t by_budget = std::max<std::int64_t>(1, spec.ring_bytes / std::max<std::int64_t>(1, row_bytes));
  ring = std::max<std::int64_t>(1, std::min(spec.log_every / spec.every, by_budget));
  drain_every = ring * spec.every;
  ring_rows = Tensor::empty({ring, k, per_step_columns}, DType::f64, *ctx);
  ring_margins = Tensor::empty({ring, k, p + q}, DType::f32, *ctx);
  const std::size_t buffer_bytes = static_cast<std::size_t>(ring * k * (per_step_columns * 8 + (p + q) * 4));
  for (int b = 0; b < 2; ++b) {
    buffers[b] = PinnedBuffer(*ctx, buffer_bytes);
    events[b] = std::make_unique<StreamEvent>(*ctx);
  }

  // Events and files.
  for (std::int64_t m = 0; m < k; ++m) {
    onset.push_back(std::make_unique<OnsetDetector>(spec.onset_window));
    flips.push_back(std::make_unique<FlipTracker>(q));
    growth.push_back(std::make_unique<GrowthTracker>(static_cast<std::int64_t>(columns.size())));
  }
  last_row.assign(static_cast<std::size_t>(k), std::vector<double>(columns.size(), kNotComputed));
  summaries.assign(static_cast<std::size_t>(k), std::string());
  for (std::int64_t m = 0; m < static_cast<std::int64_t>(spec.run_dirs.size()); ++m) {
    const std::string& dir = spec.run_dirs[static_cast<std::size_t>(m)];
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    GROOVE_CHECK(!ec, "monitor: cannot create the run folder '", dir, "': ", ec.message());
    std::vector<CsvColumn> cols;
    for (const std::string& c : columns) cols.push_back(CsvColumn{c, c == "step"});
    const bool resume = !spec.resume_states.empty();
    const OpenMode mode = resume ? OpenMode::resume : OpenMode::truncate;
    csv.push_back(std::make_unique<CsvWriter>(dir + "/metrics.csv", cols, mode));
    if (spec.examples)
      npy.push_back(
          std::make_unique<NpyAppender>(dir + "/examples.npy", DType::f32, std::vector<std::int64_t>{p + q}, mode));
  }
  if (!spec.resume_states.empty()) restore();
  trainer->set_observer(spec.every, [this] { observe(); });
}

// Checkpoint state of one model: [version, csv rows, npy rows, last_snapshot, n snapshots, steps...,
// n columns, last row..., onset, flips, growth].
constexpr double kStateVersion = 1;

void Monitor::Impl::restore() {
  GROOVE_CHECK(static_cast<std::int64_t>(spec.resume_states.size()) == k, "monitor: ", spec.resume_states.size(),
               " saved states for ", k, " models");
  for (std::int64_t m = 0; m < k; ++m) {
    const auto mi = static_cast<std::size_t>(m);
    const std::string what =
        "monitor state of model " + std::to_string(m) + (spec.run_dirs.empty() ? "" : " (" + spec.run_dirs[mi] + ")");
    const std::vector<double>& st = spec.resume_states[mi];
    StateReader in(st.data(), st.size(), what);
    GROOVE_CHECK(in.get() == kStateVersion, what, ": saved by another version of groove");
    const std::int64_t csv_rows = in.get_int(), npy_rows = in.get_int();
    last_snapshot = in.get_int();
    std::vector<std::int64_t> snaps(in.get_size(1u << 30));
    for (std::int64_t& s : snaps) s = in.get_int();
    if (m == 0) snapshot_taken = snaps;
    GROOVE_CHECK(in.get_size(1u << 30) == columns.size(), what, ": saved with different metrics columns");
    for (double& v : last_row[mi]) v = in.get();
    onset[mi]->load(in);
    flips[mi]->load(in);
    growth[mi]->load(in);
    GROOVE_CHECK(in.done(), what, ": malformed saved state (trailing values)");
    if (!csv.empty()) {
      GROOVE_CHECK(csv[mi]->rows() >= csv_rows, csv[mi]->path(), " has ", csv[mi]->rows(),
                   " rows but the checkpoint needs ", csv_rows, ": the file was changed after the checkpoint");
      csv[mi]->truncate_rows(csv_rows);
    }
    if (!npy.empty()) {
      GROOVE_CHECK(npy[mi]->rows() >= npy_rows, npy[mi]->path(), " has ", npy[mi]->rows(),
                   " rows but the checkpoint needs ", npy_rows, ": the file was changed after the checkpoint");
      npy[mi]->truncate_rows(npy_rows);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Per step (inside the training step: device work only)

void Monitor::Impl::record_eval() {
  Tape::NoGrad no_grad(eval_tape);
  nn::RngRef rng;
  rng.train = false;
  if (q > 0) {
    eval_held_logits = model->forward(eval_tape, eval_tape.input(held.x), rng);
    eval_held_features = eval_tape.tagged("features");
  }
  if (clean_train) {
    eval_train_logits = model->forward(eval_tape, eval_tape.input(train.x), rng);
    eval_train_features = eval_tape.tagged("features");
  }
  eval_recorded = true;
}

void Monitor::Impl::observe() {
  if (!eval_recorded) {
    record_eval();
  } else {
    eval_tape.forward_replay();
  }
  Tensor logits, feats, loss, log10;
  if (clean_train) {
    logits = eval_tape.value(eval_train_logits);
    if (hidden) feats = eval_tape.value(eval_train_features);
    Tensor no_grad;
    ops::loss_forward(clean_loss, clean_log10, no_grad, clean_per_example, logits, train.labels, train.targets,
                      train.weights, weight_sum, loss_spec, *ctx);
    loss = clean_loss;
    log10 = clean_log10;
  } else {
    Tape& tape = trainer->tape();
    logits = tape.value(tape.tagged("logits"));
    if (hidden) feats = tape.value(tape.tagged("features"));
    loss = trainer->loss().value;
    log10 = trainer->loss().log10_loss;
  }
  ops::margins(train_margins, logits, train.labels, *ctx);
  if (q > 0) {
    const Tensor& held_logits = eval_tape.value(eval_held_logits);
    ops::margins(held_margins, held_logits, held.labels, *ctx);
    Tensor no_grad;
    ops::loss_forward(held_loss, held_log10, no_grad, held_per_example, held_logits, held.labels, Tensor(), Tensor(),
                      static_cast<double>(q), loss_spec, *ctx);
  }
  if (hidden) {
    ops::class_means(means, feats, train_classes, *ctx);
    ops::sq_distances(train_dist, feats, means, *ctx);
    if (q > 0) ops::sq_distances(held_dist, eval_tape.value(eval_held_features), means, *ctx);
  }
  const nn::ParamStore& params = model->params();
  ops::param_norms(norms, params.flat_values(), w0, params.flat_grads(), weight_segments, all_segments, *ctx);
  ops::StepSummaryInputs in;
  in.train_margins = train_margins;
  in.train_classes = train_classes;
  in.train_loss = loss;
  in.train_log10_loss = log10;
  if (hidden) {
    in.train_dist = train_dist;
    in.means = means;
    in.heldout_dist = held_dist;
  }
  if (q > 0) {
    in.heldout_margins = held_margins;
    in.heldout_classes = held_classes;
    in.heldout_groups = held.groups;
    in.heldout_per_example = held_per_example;
  }
  in.norms = norms;
  in.step = trainer->step_counter();
  in.layers = static_cast<int>(layers);
  in.groups = static_cast<int>(groups);
  in.every = spec.every;
  ops::step_summary(ring_rows, ring_margins, scratch, in, *ctx);
}

// ---------------------------------------------------------------------------------------------
// Drain: enqueue the copy of the rows written since the last drain, then process the previous
// buffer (its copy has had a whole drain interval to finish).

void Monitor::Impl::drain(bool final_row, std::int64_t final_step) {
  const std::int64_t done = trainer->steps_done();
  Pending& pend = pending[current];
  pend.steps.clear();
  if (final_row) {
    pend.steps.push_back(final_step);
  } else {
    for (std::int64_t s = next_row_step; s < done; s += spec.every) pend.steps.push_back(s);
    next_row_step = round_up(done, spec.every);
  }
  GROOVE_ASSERT(static_cast<std::int64_t>(pend.steps.size()) <= ring, "monitor: ", pend.steps.size(),
                " rows pending for a ring of ", ring);
  if (!pend.steps.empty()) {
    const std::size_t row_bytes = static_cast<std::size_t>(k * per_step_columns * 8);
    const std::size_t margin_bytes = static_cast<std::size_t>(k * (p + q) * 4);
    char* base = static_cast<char*>(buffers[current].data());
    char* margin_base = base + static_cast<std::size_t>(ring) * row_bytes;
    for (std::size_t i = 0; i < pend.steps.size(); ++i) {
      const std::int64_t slot = (pend.steps[i] / spec.every) % ring;
      copy_to_host_async(base + i * row_bytes, ring_rows.data<double>() + slot * k * per_step_columns, row_bytes, *ctx);
      copy_to_host_async(margin_base + i * margin_bytes, ring_margins.data<float>() + slot * k * (p + q), margin_bytes,
                         *ctx);
    }
    events[current]->record();
    pend.active = true;
  }
  const int previous = current ^ 1;
  if (pending[previous].active) process(previous);
  current = previous;
}

void Monitor::Impl::process(int b) {
  Pending& pend = pending[b];
  events[b]->synchronize();
  const std::size_t row_bytes = static_cast<std::size_t>(k * per_step_columns * 8);
  const char* base = static_cast<const char*>(buffers[b].data());
  const float* margin_base = reinterpret_cast<const float*>(base + static_cast<std::size_t>(ring) * row_bytes);
  const std::size_t n_cols = columns.size();
  std::vector<double> row(n_cols);
  std::vector<std::uint8_t> correct(static_cast<std::size_t>(q));
  for (std::size_t i = 0; i < pend.steps.size(); ++i) {
    const std::int64_t step = pend.steps[i];
    const double* rows = reinterpret_cast<const double*>(base + i * row_bytes);
    auto periodic_it = periodic_values.find(step);
    for (std::int64_t m = 0; m < k; ++m) {
      const double* r = rows + m * per_step_columns;
      GROOVE_ASSERT(r[stats::kStep] == static_cast<double>(step), "monitor: ring row holds step ", r[stats::kStep],
                    ", expected ", step);
      std::copy(r, r + per_step_columns, row.begin());
      for (std::size_t c = static_cast<std::size_t>(per_step_columns); c < n_cols; ++c) {
        row[c] = periodic_it != periodic_values.end()
                     ? periodic_it->second[static_cast<std::size_t>(m)][c - static_cast<std::size_t>(per_step_columns)]
                     : kNotComputed;
      }
      const float* margins = margin_base + (i * static_cast<std::size_t>(k) + static_cast<std::size_t>(m)) *
                                               static_cast<std::size_t>(p + q);
      onset[static_cast<std::size_t>(m)]->add(step, row[stats::kTrainAcc]);
      growth[static_cast<std::size_t>(m)]->add(step, row.data(), *onset[static_cast<std::size_t>(m)]);
      if (q > 0) {
        for (std::int64_t j = 0; j < q; ++j) correct[static_cast<std::size_t>(j)] = margins[p + j] > 0;
        flips[static_cast<std::size_t>(m)]->add(step, correct.data());
      }
      if (!csv.empty()) csv[static_cast<std::size_t>(m)]->write_row(row);
      if (!npy.empty()) npy[static_cast<std::size_t>(m)]->append(margins, 1);
      last_row[static_cast<std::size_t>(m)] = row;
      if (spec.on_row) spec.on_row(m, row);
    }
    if (periodic_it != periodic_values.end()) periodic_values.erase(periodic_it);
  }
  for (auto& w : csv) w->flush();
  for (auto& w : npy) w->flush();
  pend.active = false;
  pend.steps.clear();
}

// ---------------------------------------------------------------------------------------------
// Periodic statistics and snapshots (between steps, at the current parameters theta_step)

void Monitor::Impl::run_periodic(std::int64_t step) {
  if (last_periodic == step) return;
  last_periodic = step;
  PeriodicInputs in;
  in.train_x = train.x;
  in.train_labels = train.labels;
  in.train_classes = train_classes;
  in.held_x = held.x;
  in.held_labels = held.labels;
  in.held_classes = held_classes;
  in.held_groups = held.groups;
  in.held_group_host = held_group_host;
  periodic_values[step] = periodic->compute(in);
}

std::int64_t Monitor::Impl::next_snapshot_after(std::int64_t s) const {
  if (!spec.snapshots || (!hidden)) return std::numeric_limits<std::int64_t>::max();
  if (spec.snapshot_steps.empty()) return s < 0 ? 0 : next_log_step(s);
  std::int64_t best = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t t : spec.snapshot_steps) {
    if (t > s) best = std::min(best, t);
  }
  return best;
}

void Monitor::Impl::snapshot(std::int64_t step) {
  if (last_snapshot == step || !hidden || spec.run_dirs.empty()) return;
  last_snapshot = step;
  const bool use_held = q > 0;
  const std::int64_t n = std::min(spec.snapshot_examples, use_held ? q : p);
  const Tensor feats = periodic->features(use_held ? held.x : train.x);  // [K, n_all, N]
  const Tensor host = feats.to_host();
  char name[64];
  std::snprintf(name, sizeof(name), "step_%010lld.npy", static_cast<long long>(step));
  for (std::int64_t m = 0; m < k; ++m) {
    const std::string dir = spec.run_dirs[static_cast<std::size_t>(m)] + "/snapshots";
    std::filesystem::create_directories(dir);
    Tensor out = Tensor::host({n, features}, DType::f32);
    for (std::int64_t i = 0; i < n * features; ++i) {
      out.flat<float>(i) = static_cast<float>(host.value(m * host.dim(1) * features + i));
    }
    write_npy(dir + "/" + name, out);
    if (snapshot_taken.empty()) {
      std::vector<std::int32_t> labels(static_cast<std::size_t>(n)), grp(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        labels[static_cast<std::size_t>(i)] =
            use_held ? held_class_host[static_cast<std::size_t>(i)] : train_class_host[static_cast<std::size_t>(i)];
        grp[static_cast<std::size_t>(i)] = use_held ? held_group_host[static_cast<std::size_t>(i)] : -1;
      }
      write_npy(dir + "/classes.npy",
                Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(labels.size())}, labels));
      write_npy(dir + "/groups.npy", Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(grp.size())}, grp));
    }
  }
  snapshot_taken.push_back(step);
}

// ---------------------------------------------------------------------------------------------
// Summary

void Monitor::Impl::write_summaries() {
  const BuildInfo info = build_info();
  std::string device = ctx->device().str();
  if (ctx->is_cuda()) {
    for (const GpuInfo& g : list_gpus()) {
      if (g.index == ctx->device().index()) device += " (" + g.name + ")";
    }
  }
  nlohmann::json extra = nlohmann::json::object();
  if (!spec.summary_extra_json.empty()) {
    try {
      extra = nlohmann::json::parse(spec.summary_extra_json);
    } catch (const std::exception& e) {
      GROOVE_THROW("monitor: summary_extra_json is not valid JSON: ", e.what());
    }
  }
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (std::int64_t m = 0; m < k; ++m) {
    const auto mi = static_cast<std::size_t>(m);
    nlohmann::json j;
    j["model"] = m;
    j["steps"] = trainer->steps_done();
    j["groove"] = {{"version", info.version},
                   {"git_hash", info.git_hash},
                   {"build_type", info.build_type},
                   {"blas", info.blas},
                   {"cuda_runtime", cuda_runtime_version()},
                   {"cuda_driver", cuda_driver_version()}};
    j["device"] = device;
    j["rng"] = "philox4x32-10";
    j["every"] = spec.every;
    j["onset_window"] = spec.onset_window;
    j["heldout_groups"] = held.group_names;
    j["heldout_example_groups"] = held_group_host;  // group index of each held-out example
    nlohmann::json final_values = nlohmann::json::object();
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (!is_not_computed(last_row[mi][c])) final_values[columns[c]] = number(last_row[mi][c]);
    }
    j["final"] = final_values;
    const std::optional<Onset> on = onset[mi]->result();
    if (on) {
      j["onset"] = {{"step", on->step}, {"provisional", on->provisional}};
      nlohmann::json at_onset = nlohmann::json::object(), per_decade = nlohmann::json::object();
      const std::vector<Growth> g = growth[mi]->results();
      for (std::size_t c = 1; c < columns.size(); ++c) {
        at_onset[columns[c]] = number(g[c].at_onset);
        per_decade[columns[c]] = number(g[c].per_decade);
      }
      j["at_onset"] = at_onset;
      j["growth_per_decade"] = per_decade;
    } else {
      j["onset"] = nullptr;
    }
    if (q > 0 && flips[mi]->rows() > 0) {
      const FlipTracker& f = *flips[mi];
      nlohmann::json ex = nlohmann::json::array();
      std::vector<std::int64_t> n_flips, first_correct;
      std::vector<int> final_correct;
      for (std::int64_t i = 0; i < q; ++i) {
        n_flips.push_back(f.n_flips(i));
        first_correct.push_back(f.first_correct(i));
        final_correct.push_back(f.final_correct(i) ? 1 : 0);
        nlohmann::json steps = nlohmann::json::array();
        for (const Flip& fl : f.flips(i)) steps.push_back(fl.to_correct ? fl.step : -fl.step);
        ex.push_back(steps);
      }
      nlohmann::json fj = {{"n_flips", n_flips},
                           {"first_correct", first_correct},
                           {"final_correct", final_correct},
                           {"flip_steps", ex},
                           {"flip_steps_note", "positive: wrong -> right at that step; negative: right -> wrong"}};
      fj["wrong_at_onset_right_at_end"] =
          on ? nlohmann::json(f.wrong_at_right_at_end(std::max(on->step, *f.first_step()))) : nlohmann::json(nullptr);
      j["flips"] = fj;
    }
    j["snapshots"] = snapshot_taken;
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    summaries[mi] = j.dump(2);
    if (!spec.run_dirs.empty()) write_file_atomic(spec.run_dirs[mi] + "/summary.json", summaries[mi] + "\n");
  }
}

// ---------------------------------------------------------------------------------------------
// Monitor

Monitor::Monitor(nn::Trainer& trainer, const nn::Model& model, const nn::TrainData& train, HeldOut held_out,
                 MonitorSpec spec)
    : impl_(std::make_unique<Impl>(trainer, model, train, std::move(held_out), std::move(spec))) {
  impl_->setup();
  impl_->next_row_step = round_up(trainer.steps_done(), impl_->spec.every);
}

Monitor::~Monitor() {
  if (impl_ && impl_->trainer) impl_->trainer->set_observer(0, {});
}

const std::vector<std::string>& Monitor::columns() const {
  return impl_->columns;
}

std::string Monitor::summary_json(std::int64_t model) const {
  GROOVE_CHECK(model >= 0 && model < impl_->k, "monitor: no model ", model);
  return impl_->summaries[static_cast<std::size_t>(model)];
}

void Monitor::run(std::int64_t steps) {
  Impl& m = *impl_;
  GROOVE_CHECK(!m.finished, "monitor: run() after finish()");
  GROOVE_CHECK(steps >= 0, "monitor: steps must be >= 0, got ", steps);
  const std::int64_t end = m.trainer->steps_done() + steps;
  while (m.trainer->steps_done() < end) {
    const std::int64_t done = m.trainer->steps_done();
    if (m.spec.probe_every > 0 && done % m.spec.probe_every == 0) m.run_periodic(done);
    if (m.next_snapshot_after(done - 1) == done) m.snapshot(done);
    std::int64_t next = std::min(end, (done / m.drain_every + 1) * m.drain_every);
    if (m.spec.probe_every > 0) next = std::min(next, (done / m.spec.probe_every + 1) * m.spec.probe_every);
    next = std::min(next, m.next_snapshot_after(done));
    m.trainer->run(next - done);
    if (m.trainer->steps_done() % m.drain_every == 0) m.drain(false, 0);
  }
}

void Monitor::flush() {
  Impl& m = *impl_;
  GROOVE_CHECK(!m.finished, "monitor: flush() after finish()");
  m.drain(false, 0);
  m.drain(false, 0);  // processes the buffer the first call enqueued
  for (auto& w : m.csv) w->flush(true);
  for (auto& w : m.npy) w->flush(true);
}

std::vector<double> Monitor::state(std::int64_t model) const {
  const Impl& m = *impl_;
  GROOVE_CHECK(model >= 0 && model < m.k, "monitor: no model ", model);
  GROOVE_CHECK(!m.pending[0].active && !m.pending[1].active, "monitor: state() needs flush() first");
  const auto mi = static_cast<std::size_t>(model);
  StateWriter out;
  out.put(kStateVersion);
  out.put_int(m.csv.empty() ? 0 : m.csv[mi]->rows());
  out.put_int(m.npy.empty() ? 0 : m.npy[mi]->rows());
  out.put_int(m.last_snapshot);
  out.put_int(static_cast<std::int64_t>(m.snapshot_taken.size()));
  for (std::int64_t s : m.snapshot_taken) out.put_int(s);
  out.put_int(static_cast<std::int64_t>(m.columns.size()));
  for (double v : m.last_row[mi]) out.put(v);
  m.onset[mi]->save(out);
  m.flips[mi]->save(out);
  m.growth[mi]->save(out);
  return std::move(out.data);
}

void Monitor::finish() {
  Impl& m = *impl_;
  if (m.finished) return;
  const std::int64_t done = m.trainer->steps_done();
  // Everything written so far, then the row of the final parameters.
  m.drain(false, 0);
  m.drain(false, 0);  // processes the buffer the first call enqueued
  m.run_periodic(done);
  m.snapshot(done);
  m.trainer->evaluate();
  m.drain(true, done);
  m.drain(false, 0);
  m.write_summaries();
  for (auto& w : m.csv) w->close();
  for (auto& w : m.npy) w->close();
  m.finished = true;
}

}  // namespace groove::metrics
