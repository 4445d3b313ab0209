// The benchmark workload (see workload.h).
#include "bench/workload.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/ops.h"
#include "runtime/error.h"
#include "runtime/npy.h"

namespace groove::bench {

double WorkloadSpec::flops_per_model_step() const {
  const double b = static_cast<double>(batch > 0 ? batch : p);
  return 4.0 * b * static_cast<double>(d) * static_cast<double>(n) +
         6.0 * b * static_cast<double>(n) * static_cast<double>(c);
}

std::string WorkloadSpec::label() const {
  std::ostringstream s;
  s << "D" << d << " N" << n << " P" << p << " C" << c << " K" << k << (batch > 0 ? " B" + std::to_string(batch) : " full");
  return s.str();
}

void WorkloadSpec::validate() const {
  GROOVE_CHECK(d >= 1 && n >= 1 && p >= 2 && k >= 1, "bench workload ", label(),
               ": D, N, K must be >= 1 and P >= 2");
  GROOVE_CHECK(c >= 2, "bench workload ", label(), ": C (classes) must be >= 2, got ", c);
  GROOVE_CHECK(batch >= 0 && batch <= p, "bench workload ", label(), ": the minibatch size B = ", batch,
               " must lie in [0, P] (0: full batch)");
  GROOVE_CHECK(q >= 2, "bench workload ", label(), ": Q (held-out examples) must be >= 2, got ", q);
  GROOVE_CHECK(lr >= 0 && std::isfinite(lr), "bench workload ", label(), ": lr must be finite and >= 0, got ", lr);
  GROOVE_CHECK(steps_per_graph >= 1, "bench workload: steps_per_graph must be >= 1");
}

namespace {

// Gaussian inputs labelled by a random linear teacher (argmax of x T): a learnable task whose
// accuracy, margins and class geometry move during training.
void make_examples(std::int64_t count, std::int64_t d, std::int64_t c, std::uint64_t seed, std::uint64_t stream,
                   const Tensor& teacher, Tensor& x, Tensor& labels) {
  x = Tensor::host({count, d}, DType::f32);
  Context host(Device::cpu());
  ops::random_normal(x, RngKey{seed, stream, 0}, 0.0, 1.0, host);
  labels = Tensor::host({count}, DType::i32);
  const float* t = teacher.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    const float* row = x.data<float>() + i * d;
    std::int32_t best = 0;
    double best_score = -INFINITY;
    for (std::int64_t j = 0; j < c; ++j) {
      double score = 0;
      for (std::int64_t m = 0; m < d; ++m) score += static_cast<double>(row[m]) * t[m * c + j];
      if (score > best_score) best_score = score, best = static_cast<std::int32_t>(j);
    }
    labels.flat<std::int32_t>(i) = best;
  }
}

}  // namespace

Workload::Workload(Context& ctx, const WorkloadSpec& spec) : ctx_(ctx), spec_(spec) {
  spec_.validate();
  Context host(Device::cpu());
  Tensor teacher = Tensor::host({spec_.d, spec_.c}, DType::f32);
  ops::random_normal(teacher, RngKey{spec_.seed, 0x7eac, 0}, 0.0, 1.0, host);
  Tensor x, labels, hx, hl;
  make_examples(spec_.p, spec_.d, spec_.c, spec_.seed, 0xda7a, teacher, x, labels);
  make_examples(spec_.q, spec_.d, spec_.c, spec_.seed, 0x4e1d, teacher, hx, hl);
  Tensor groups = Tensor::host({spec_.q}, DType::i32);
  for (std::int64_t i = 0; i < spec_.q; ++i) groups.flat<std::int32_t>(i) = static_cast<std::int32_t>(i % 2);
  data_ = nn::TrainData{x.to(ctx), labels.to(ctx), {}, {}};
  held_out_ = metrics::HeldOut{hx.to(ctx), hl.to(ctx), groups.to(ctx), {"test", "probe"}};

  nn::MlpSpec ms;
  ms.input_dim = spec_.d;
  ms.hidden = {spec_.n};
  ms.output_dim = spec_.c;
  ms.parameterization = nn::Parameterization::mean_field;
  nn::EnsembleSpec ens;
  ens.models = spec_.k;
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(spec_.k));
  for (std::int64_t i = 0; i < spec_.k; ++i) seeds[static_cast<std::size_t>(i)] = spec_.seed + static_cast<std::uint64_t>(i);
  ens.seeds = seeds;
  ens.dtype = DType::f32;
  mlp_ = std::make_unique<nn::Mlp>(ctx, ms, ens);

  nn::OptimizerSpec os;
  os.precision = Precision::fp32;
  os.lr = {spec_.effective_lr()};
  optimizer_ = std::make_unique<nn::Optimizer>(mlp_->params(), os);

  nn::TrainerSpec ts;
  ts.seeds = seeds;
  ts.batch_size = spec_.batch;
  ts.steps_per_graph = spec_.steps_per_graph;
  trainer_ = std::make_unique<nn::Trainer>(mlp_->params(), mlp_->forward_fn(), *optimizer_, data_, ts);

  if (spec_.stats) {
    metrics::MonitorSpec mon;
    mon.log_every = spec_.log_every;
    mon.examples = false;
    mon.snapshots = false;
    mon.on_row = [this](std::int64_t model, const std::vector<double>& row) {
      if (row_sink_) row_sink_(model, row);
    };
    monitor_ = std::make_unique<metrics::Monitor>(*trainer_, *mlp_, data_, held_out_, mon);
  }
}

Workload::~Workload() = default;

void Workload::run(std::int64_t steps) {
  if (monitor_) {
    monitor_->run(steps);
  } else {
    trainer_->run(steps);
  }
}

double Workload::readout_scale() const {
  return static_cast<double>(static_cast<float>(1.0 / static_cast<double>(spec_.n)));
}

void Workload::dump(const std::string& dir, std::int64_t steps, const std::string& groove_json) {
  GROOVE_CHECK(monitor_, "bench --dump: the workload must have its statistics on");
  GROOVE_CHECK(trainer_->steps_done() == 0, "bench --dump: the workload has already trained");
  GROOVE_CHECK(steps >= 1, "bench --dump: steps must be >= 1");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  GROOVE_CHECK(!ec, "bench --dump: cannot create '", dir, "': ", ec.message());
  mlp_->params().save_npz(dir + "/init.npz");

  // Per-step columns (the periodic ones stay NaN until finish(), which a benchmark never reaches).
  const std::vector<std::string>& columns = monitor_->columns();
  std::vector<std::vector<double>> values(columns.size(),
                                          std::vector<double>(static_cast<std::size_t>(steps * spec_.k), NAN));
  row_sink_ = [&](std::int64_t model, const std::vector<double>& row) {
    const auto s = static_cast<std::int64_t>(row[0]);  // column 0 is "step"
    if (s < 0 || s >= steps) return;
    for (std::size_t j = 0; j < columns.size(); ++j)
      values[j][static_cast<std::size_t>(s * spec_.k + model)] = row[j];
  };
  std::vector<std::int32_t> batch_index;
  if (spec_.batch > 0) {
    for (std::int64_t s = 0; s < steps; ++s) {
      run(1);
      const Tensor idx = trainer_->batch_index().to_host();
      batch_index.insert(batch_index.end(), idx.data<std::int32_t>(), idx.data<std::int32_t>() + idx.numel());
    }
  } else {
    run(steps);
  }
  monitor_->flush();
  ctx_.synchronize();
  row_sink_ = nullptr;

  std::vector<NamedTensor> data = {{"x", data_.x.to_host()},
                                   {"labels", data_.labels.to_host()},
                                   {"heldout_x", held_out_.x.to_host()},
                                   {"heldout_labels", held_out_.labels.to_host()},
                                   {"heldout_groups", held_out_.groups.to_host()}};
  if (spec_.batch > 0)
    data.push_back({"batch_index", Tensor::from_vector<std::int32_t>({steps, spec_.k, spec_.batch}, batch_index)});
  write_npz(dir + "/data.npz", data);

  std::vector<NamedTensor> curves;
  nlohmann::json names = nlohmann::json::array();
  for (std::size_t j = 0; j < columns.size(); ++j) {
    bool any = false;
    for (double v : values[j]) any = any || !std::isnan(v);
    if (!any || columns[j] == "step") continue;  // periodic columns: never computed here
    curves.push_back({columns[j], Tensor::from_vector<double>({steps, spec_.k}, values[j])});
    names.push_back(columns[j]);
  }
  write_npz(dir + "/curves.npz", curves);

  nlohmann::json j;
  j["config"] = {{"D", spec_.d}, {"N", spec_.n},     {"P", spec_.p}, {"C", spec_.c},
                 {"K", spec_.k}, {"batch", spec_.batch}, {"Q", spec_.q}, {"groups", held_out_.group_names}};
  j["model"] = {{"parameterization", "mean_field"},
                {"gamma", 1.0},
                {"activation", "relu"},
                {"hidden_scale", "1/sqrt(D)"},
                {"readout_scale", readout_scale()}};
  j["loss"] = "cross_entropy";
  j["optimizer"] = {{"kind", "sgd"}, {"lr", spec_.effective_lr()}};
  j["log_every"] = spec_.log_every;
  j["ring_bytes"] = metrics::MonitorSpec{}.ring_bytes;  // the monitor drains earlier when rows outgrow it
  j["check_steps"] = steps;
  j["columns"] = names;
  j["device"] = ctx_.device().str();
  j["groove"] = nlohmann::json::parse(groove_json.empty() ? "{}" : groove_json);
  std::ofstream(dir + "/bench.json") << j.dump(2) << "\n";
}

}  // namespace groove::bench
