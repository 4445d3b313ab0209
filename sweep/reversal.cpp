// The overtraining-reversal protocol (sweep/reversal.h).
#include "sweep/reversal.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kernels/stats_ops.h"
#include "metrics/monitor.h"
#include "metrics/probes.h"
#include "metrics/writers.h"
#include "nn/optimizer.h"
#include "nn/trainer.h"
#include "runtime/build_info.h"
#include "runtime/error.h"
#include "runtime/npy.h"
#include "sweep/config.h"
#include "sweep/progress.h"
#include "sweep/runner.h"
#include "sweep/runner_internal.h"

namespace fs = std::filesystem;

namespace groove::sweep {

namespace {

// Phase-2 curves are kept at every step up to 20, then at about 20 log-spaced steps per decade.
bool curve_step(std::int64_t s) {
  if (s <= 20) return true;
  return std::floor(20 * std::log10(static_cast<double>(s))) != std::floor(20 * std::log10(static_cast<double>(s - 1)));
}

// The hidden features [K, P, N] of a model on x (evaluation mode).
Tensor features_of(const nn::Model& model, const Tensor& x, Context& ctx) {
  Tape tape(ctx);
  Tape::NoGrad no_grad(tape);
  nn::RngRef rng;
  rng.train = false;
  model.forward(tape, tape.input(x), rng);
  return tape.value(tape.tagged("features"));
}

}  // namespace

std::string run_reversal(const std::string& config_path, const ReversalOptions& options) {
  std::ostream& out = options.out ? *options.out : std::cout;
  const Config base = Config::load(config_path, options.overrides);
  GROOVE_CHECK(base.axes().grid.empty() && base.axes().zip.empty(), config_path,
               ": groove reversal sweeps reversal.pretrain_steps and sweep.seeds; remove sweep.grid and sweep.zip");
  const std::int64_t seeds = base.axes().seeds;
  const std::string dir = (fs::path(base.string("out")) / base.string("name")).string();
  fs::create_directories(dir);
  write_file_atomic(dir + "/config.yaml", base.to_yaml(true));

  std::vector<std::int64_t> ts = base.integers("reversal.pretrain_steps");
  GROOVE_CHECK(!ts.empty(), base.setting("reversal.pretrain_steps").where, ": reversal.pretrain_steps is empty");
  std::sort(ts.begin(), ts.end());
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  const std::int64_t phase2 = base.integer("reversal.steps");
  const double loss_crit = base.number("reversal.loss_criterion");
  const double acc_crit = base.number("reversal.accuracy_criterion");

  const tasks::Dataset host_data = build_dataset(base, detail::config_dir(config_path));
  GROOVE_CHECK(host_data.num_classes >= 2, "groove reversal needs a classification task");
  Context ctx(resolve_device(base.string("device")));
  const DType dt = detail::dtype_of(base);
  const tasks::Dataset data = host_data.to(ctx);
  const tasks::Dataset::Split split = data.split("train", ctx);
  nn::TrainData train;
  train.x = detail::as_dtype(split.x, dt, ctx);
  train.labels = split.y;
  train.weights = split.weights.defined() ? detail::as_dtype(split.weights, dt, ctx) : Tensor();
  // Reversed labels: 1 - y for two classes, (y + 1) mod C for more.
  nn::TrainData reversed = train;
  {
    std::vector<std::int32_t> y = split.y.to_vector<std::int32_t>();
    const auto c = static_cast<std::int32_t>(host_data.num_classes);
    for (std::int32_t& v : y) v = c == 2 ? 1 - v : (v + 1) % c;
    reversed.labels = Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(y.size())}, y).to(ctx);
  }
  const auto classes = static_cast<int>(host_data.num_classes);

  std::ostringstream summary_csv, curves_csv;
  summary_csv << "network,pretrain_steps,seed,steps_to_loss,steps_to_accuracy,kernel_alignment,final_loss\n";
  curves_csv << "network,pretrain_steps,seed,step,loss,accuracy\n";

  for (const std::string& network : base.strings("reversal.networks")) {
    Config c = base;
    c.axes() = SweepAxes{};
    if (network == "linear") {
      // The two-layer linear mean-field network: one hidden layer of the configured width.
      const std::vector<std::int64_t> hidden = c.integers("model.hidden");
      const std::int64_t width = hidden.empty() ? 500 : hidden.back();
      c.set("model.kind", "mlp", "reversal: linear network");
      c.set("model.hidden", "[" + std::to_string(width) + "]", "reversal: linear network");
      c.set("model.activation", "identity", "reversal: linear network");
      c.set("model.parameterization", "mean_field", "reversal: linear network");
      c.set("model.dropout", "0", "reversal: linear network");
      c.set("model.noise", "0", "reversal: linear network");
    }
    const std::int64_t outputs = model_outputs(c, host_data);
    // Phase 1: one model per seed.
    std::vector<Config> p1_configs;
    for (std::int64_t s = 0; s < seeds; ++s) {
      Config m = c;
      m.set("seed", std::to_string(c.integer("seed") + s), "sweep.seeds");
      p1_configs.push_back(m);
    }
    std::vector<const Config*> p1;
    for (const Config& m : p1_configs) p1.push_back(&m);
    std::unique_ptr<nn::Model> model1 = detail::build_model(c, p1, ctx, host_data.dim(), outputs);
    const std::int64_t width = model1->feature_dim() > 0 ? model1->feature_dim() : host_data.dim();
    nn::Optimizer opt1(model1->params(), detail::optimizer_spec(c, p1, width));
    nn::TrainerSpec ts1 = detail::trainer_spec(c, p1);
    nn::Trainer trainer1(model1->params(), model1->forward_fn(), opt1, train, ts1);
    const int n_params = model1->params().size();
    std::map<std::int64_t, std::vector<Tensor>> kept;  // T -> host copy of every parameter [seeds, ...]
    std::map<std::int64_t, std::vector<double>> alignment;
    std::unique_ptr<Progress> progress;
    if (options.progress)
      progress = std::make_unique<Progress>(ts.back(), progress_options_for_stderr("reversal " + network + " phase 1"));
    for (std::int64_t t : ts) {
      trainer1.run(t - trainer1.steps_done());
      std::vector<Tensor> params;
      for (int i = 0; i < n_params; ++i) params.push_back(model1->params().value(i).to_host());
      kept[t] = params;
      if (model1->feature_dim() > 0) {
        alignment[t] = metrics::kernel_alignment(features_of(*model1, train.x, ctx), train.labels, classes, ctx);
      } else {
        alignment[t] = std::vector<double>(static_cast<std::size_t>(seeds), std::nan(""));
      }
      if (progress) progress->update(t);
    }
    if (progress) progress->finish("done");

    // Phase 2: one model per (T, seed); the new readout is the same for every T of a seed.
    std::vector<Config> p2_configs;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      for (std::int64_t s = 0; s < seeds; ++s) {
        Config m = p1_configs[static_cast<std::size_t>(s)];
        m.set("seed", std::to_string(m.integer("seed") + 1000003), "reversal: new readout");
        p2_configs.push_back(m);
      }
    }
    std::vector<const Config*> p2;
    for (const Config& m : p2_configs) p2.push_back(&m);
    std::unique_ptr<nn::Model> model2 = detail::build_model(c, p2, ctx, host_data.dim(), outputs);
    // The readout: the last ".weight" parameter and the bias declared after it.
    int readout = -1;
    for (int i = 0; i < n_params; ++i) {
      const std::string& name = model2->params().name(i);
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) readout = i;
    }
    for (int i = 0; i < n_params; ++i) {
      if (i >= readout) continue;  // the readout (and its bias) keep their fresh draw
      const Tensor& dst = model2->params().value(i);
      Tensor host = dst.to_host();
      const std::size_t bytes = host.nbytes() / static_cast<std::size_t>(host.dim(0));
      for (std::size_t t = 0; t < ts.size(); ++t) {
        const Tensor& src = kept[ts[t]][static_cast<std::size_t>(i)];
        for (std::int64_t s = 0; s < seeds; ++s) {
          const std::int64_t m = static_cast<std::int64_t>(t) * seeds + s;
          std::memcpy(static_cast<char*>(host.raw()) + static_cast<std::size_t>(m) * bytes,
                      static_cast<const char*>(src.raw()) + static_cast<std::size_t>(s) * bytes, bytes);
        }
      }
      Tensor view = dst;
      const Tensor device = host.to(ctx);
      ops::copy(view, device, ctx);
    }
    ctx.synchronize();
    nn::Optimizer opt2(model2->params(), detail::optimizer_spec(c, p2, width));
    nn::Trainer trainer2(model2->params(), model2->forward_fn(), opt2, reversed, detail::trainer_spec(c, p2));
    const std::size_t k2 = p2.size();
    std::vector<std::int64_t> to_loss(k2, -1), to_acc(k2, -1);
    std::vector<double> final_loss(k2, std::nan(""));
    metrics::MonitorSpec ms;
    ms.every = 1;
    ms.log_every = std::min<std::int64_t>(1000, std::max<std::int64_t>(1, phase2));
    ms.probe_every = 0;
    ms.examples = false;
    ms.snapshots = false;
    ms.periodic = metrics::PeriodicSpec{};
    ms.periodic.svm = ms.periodic.ridge = ms.periodic.logistic = ms.periodic.fisher = false;
    ms.periodic.rsa = ms.periodic.kernel_alignment = false;
    ms.on_row = [&](std::int64_t m, const std::vector<double>& row) {
      const auto mi = static_cast<std::size_t>(m);
      const auto step = static_cast<std::int64_t>(row[stats::kStep]);
      const double loss = row[stats::kTrainLoss], acc = row[stats::kTrainAcc];
      if (to_loss[mi] < 0 && loss < loss_crit) to_loss[mi] = step;
      if (to_acc[mi] < 0 && acc >= acc_crit - 1e-12) to_acc[mi] = step;
      final_loss[mi] = loss;
      if (curve_step(step) || step == phase2) {
        const std::size_t t = mi / static_cast<std::size_t>(seeds);
        const std::int64_t s = static_cast<std::int64_t>(mi % static_cast<std::size_t>(seeds));
        curves_csv << network << "," << ts[t] << "," << c.integer("seed") + s << "," << step << ","
                   << metrics::csv_number(loss) << "," << metrics::csv_number(acc) << "\n";
      }
    };
    {
      metrics::Monitor monitor(trainer2, *model2, reversed, metrics::HeldOut{}, ms);
      if (options.progress)
        progress = std::make_unique<Progress>(phase2, progress_options_for_stderr("reversal " + network + " phase 2"));
      const std::int64_t chunk = std::max<std::int64_t>(1, phase2 / 50);
      while (trainer2.steps_done() < phase2) {
        monitor.run(std::min(chunk, phase2 - trainer2.steps_done()));
        if (progress) progress->update(trainer2.steps_done());
      }
      monitor.finish();
      if (progress) progress->finish("done");
    }
    for (std::size_t m = 0; m < k2; ++m) {
      const std::size_t t = m / static_cast<std::size_t>(seeds);
      const std::size_t s = m % static_cast<std::size_t>(seeds);
      summary_csv << network << "," << ts[t] << "," << c.integer("seed") + static_cast<std::int64_t>(s) << ","
                  << to_loss[m] << "," << to_acc[m] << "," << metrics::csv_number(alignment[ts[t]][s]) << ","
                  << metrics::csv_number(final_loss[m]) << "\n";
    }
    out << "groove reversal: " << network << ": steps to train loss < " << metrics::csv_number(loss_crit)
        << " on reversed labels:";
    for (std::size_t t = 0; t < ts.size(); ++t) {
      double mean = 0;
      int n = 0;
      for (std::int64_t s = 0; s < seeds; ++s) {
        const std::int64_t v = to_loss[t * static_cast<std::size_t>(seeds) + static_cast<std::size_t>(s)];
        if (v >= 0) mean += static_cast<double>(v), ++n;
      }
      out << "  T=" << ts[t] << ": " << (n > 0 ? std::to_string(std::llround(mean / n)) : std::string("not reached"));
    }
    out << "\n";
  }
  write_file_atomic(dir + "/reversal.csv", summary_csv.str());
  write_file_atomic(dir + "/reversal_curves.csv", curves_csv.str());
  nlohmann::json j = {{"loss_criterion", loss_crit},
                      {"accuracy_criterion", acc_crit},
                      {"pretrain_steps", ts},
                      {"steps", phase2},
                      {"seeds", seeds},
                      {"networks", base.strings("reversal.networks")},
                      {"groove", build_info().version}};
  write_file_atomic(dir + "/reversal.json", j.dump(2) + "\n");
  out << "groove reversal: results in " << dir << " (reversal.csv, reversal_curves.csv; plots: groove plot " << dir
      << ")\n";
  return dir;
}

}  // namespace groove::sweep
