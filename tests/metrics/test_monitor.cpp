// The Monitor end to end on the CPU: rows at the right steps, every column of the final row
// against an independent recomputation from the final parameters, training unchanged by watching,
// files (metrics.csv, examples.npy, summary.json), onset and flips against the rows, the clean
// forward used with minibatches and dropout, and PGD.
#include <gtest/gtest.h>

#include <iomanip>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/stats_ops.h"
#include "metrics/monitor.h"
#include "metrics/probes.h"
#include "metrics/svm.h"
#include "metrics/writers.h"
#include "runtime/npy.h"
#include "tasks/generators.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

struct TaskData {
  nn::TrainData train;
  metrics::HeldOut held;
};

// Binary labels from the sign of a random direction; held-out: "test" and "probe" (harder: near
// the boundary).
TaskData make_data(Context& ctx, std::int64_t p, std::int64_t q, std::int64_t d, std::uint64_t seed) {
  Tensor w = test::random_tensor({d}, DType::f64, seed);
  auto make = [&](std::int64_t n, std::uint64_t s, double shrink, Tensor& x, Tensor& y) {
    x = Tensor::host({n, d}, DType::f32);
    ops::random_normal(x, RngKey{s, 1, 0}, 0, 1, ctx);
    y = Tensor::host({n}, DType::i32);
    for (std::int64_t i = 0; i < n; ++i) {
      double dot = 0;
      for (std::int64_t j = 0; j < d; ++j) dot += w.flat<double>(j) * x.flat<float>(i * d + j);
      y.flat<std::int32_t>(i) = dot > 0 ? 1 : 0;
      for (std::int64_t j = 0; j < d; ++j) x.flat<float>(i * d + j) *= static_cast<float>(shrink);
    }
  };
  TaskData s;
  Tensor x, y, hx, hy;
  make(p, seed + 1, 1.0, x, y);
  make(q, seed + 2, 1.0, hx, hy);
  s.train = {x.to(ctx), y.to(ctx), Tensor(), Tensor()};
  Tensor groups = Tensor::host({q}, DType::i32);
  for (std::int64_t i = 0; i < q; ++i) groups.flat<std::int32_t>(i) = i % 3 == 0 ? 1 : 0;
  s.held = {hx.to(ctx), hy.to(ctx), groups.to(ctx), {"test", "probe"}};
  return s;
}

struct TrainRun {
  std::unique_ptr<nn::Mlp> mlp;
  std::unique_ptr<nn::Optimizer> opt;
  std::unique_ptr<nn::Trainer> trainer;
};

TrainRun make_run(Context& ctx, const nn::TrainData& data, std::int64_t models, std::int64_t batch = 0,
                  double dropout = 0) {
  nn::MlpSpec spec;
  spec.input_dim = data.x.dim(1);
  spec.hidden = {16};
  spec.output_dim = 1;
  spec.dropout = dropout;
  nn::EnsembleSpec ens;
  ens.models = models;
  ens.seeds = {};
  for (std::int64_t m = 0; m < models; ++m) ens.seeds.push_back(100 + static_cast<std::uint64_t>(m));
  TrainRun r;
  r.mlp = std::make_unique<nn::Mlp>(ctx, spec, ens);
  nn::OptimizerSpec os;
  os.lr = {0.5};
  r.opt = std::make_unique<nn::Optimizer>(r.mlp->params(), os);
  nn::TrainerSpec ts;
  ts.loss.kind = LossKind::logistic;
  ts.batch_size = batch;
  ts.seeds = ens.seeds;
  r.trainer = std::make_unique<nn::Trainer>(r.mlp->params(), r.mlp->forward_fn(), *r.opt, data, ts);
  return r;
}

using Rows = std::vector<std::vector<std::vector<double>>>;  // [model][row][column]

metrics::MonitorSpec collecting(Rows& rows, std::int64_t models) {
  rows.assign(static_cast<std::size_t>(models), {});
  metrics::MonitorSpec spec;
  spec.on_row = [&rows](std::int64_t m, const std::vector<double>& row) {
    rows[static_cast<std::size_t>(m)].push_back(row);
  };
  spec.snapshots = false;
  return spec;
}

int column(const metrics::Monitor& mon, const std::string& name) {
  const auto& c = mon.columns();
  const auto it = std::find(c.begin(), c.end(), name);
  EXPECT_NE(it, c.end()) << "no column " << name;
  return static_cast<int>(it - c.begin());
}

TEST(Monitor, RowsAtTheirStepsAndTrainingUnchanged) {
  Context ctx;
  const TaskData s = make_data(ctx, 40, 12, 6, 1);
  TrainRun watched = make_run(ctx, s.train, 2), plain = make_run(ctx, s.train, 2);
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 2);
  spec.every = 3;
  spec.log_every = 6;
  metrics::Monitor mon(*watched.trainer, *watched.mlp, s.train, s.held, spec);
  mon.run(10);
  mon.run(10);
  mon.finish();
  plain.trainer->run(20);
  // Watching does not change training: the parameters are bitwise equal.
  EXPECT_TRUE(test::bitwise_equal(watched.mlp->params().flat_values(), plain.mlp->params().flat_values()));
  for (int m = 0; m < 2; ++m) {
    std::vector<double> steps;
    for (const auto& r : rows[static_cast<std::size_t>(m)]) steps.push_back(r[stats::kStep]);
    EXPECT_EQ(steps, (std::vector<double>{0, 3, 6, 9, 12, 15, 18, 20}));
  }
  // The train loss of the row at step s is the loss the step computed (theta_s): compare with a
  // plain run stopped at s steps and evaluated.
  TrainRun probe = make_run(ctx, s.train, 2);
  probe.trainer->run(9);
  probe.trainer->evaluate();
  const std::vector<float> loss9 = probe.trainer->loss().value.to_vector<float>();
  for (int m = 0; m < 2; ++m) EXPECT_EQ(rows[static_cast<std::size_t>(m)][3][stats::kTrainLoss], loss9[m]);
}

// Recomputes every per-step column of the final row from the final parameters.
TEST(Monitor, FinalRowMatchesAnIndependentRecomputation) {
  Context ctx;
  const std::int64_t p = 48, q = 15, d = 5, n = 16;
  const TaskData s = make_data(ctx, p, q, d, 2);
  TrainRun r = make_run(ctx, s.train, 2);
  const Tensor w_init = r.mlp->params().flat_values().to_host();
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 2);
  spec.log_every = 5;
  metrics::Monitor mon(*r.trainer, *r.mlp, s.train, s.held, spec);
  mon.run(23);
  mon.finish();
  // Host copies of the parameters: layer0.weight [K, n, d], layer0.bias [K, n], layer1.weight [K, 1, n], layer1.bias.
  const nn::ParamStore& ps = r.mlp->params();
  const Tensor w1 = ps.value(0).to_host(), b1 = ps.value(1).to_host(), w2 = ps.value(2).to_host(),
               b2 = ps.value(3).to_host();
  const Tensor x = s.train.x.to_host(), y = s.train.labels.to_host(), hx = s.held.x.to_host(),
               hy = s.held.labels.to_host(), hg = s.held.groups.to_host();
  for (std::int64_t m = 0; m < 2; ++m) {
    auto features = [&](const Tensor& xs, std::int64_t i, std::vector<double>& h) {
      h.assign(n, 0);
      for (std::int64_t u = 0; u < n; ++u) {
        double a = b1.flat<float>(m * n + u);
        for (std::int64_t j = 0; j < d; ++j)
          a += double(w1.flat<float>((m * n + u) * d + j)) * xs.flat<float>(i * d + j);
        h[u] = std::max(0.0, a);
      }
    };
    auto output = [&](const std::vector<double>& h) {
      double f = b2.flat<float>(m);
      for (std::int64_t u = 0; u < n; ++u) f += double(w2.flat<float>(m * n + u)) * h[u];
      return f;
    };
    std::vector<std::vector<double>> ht(p);
    std::vector<double> margins(p);
    double loss = 0;
    for (std::int64_t i = 0; i < p; ++i) {
      features(x, i, ht[i]);
      const double yy = y.flat<std::int32_t>(i) ? 1 : -1;
      margins[i] = yy * output(ht[i]);
      loss += std::log1p(std::exp(-margins[i]));
    }
    const std::vector<double>& row = rows[static_cast<std::size_t>(m)].back();
    EXPECT_EQ(row[stats::kStep], 23);
    const double tol = 2e-5;
    EXPECT_NEAR(row[stats::kTrainLoss], loss / p, tol);
    EXPECT_NEAR(row[stats::kMarginMin], *std::min_element(margins.begin(), margins.end()), tol);
    double acc = 0;
    for (double mm : margins) acc += mm > 0;
    EXPECT_DOUBLE_EQ(row[stats::kTrainAcc], acc / p);
    // Class means, within-class variance, centroid distance, nearest class mean.
    std::vector<std::vector<double>> mu(2, std::vector<double>(n, 0));
    double cnt[2] = {0, 0};
    for (std::int64_t i = 0; i < p; ++i) {
      const int c = y.flat<std::int32_t>(i);
      cnt[c] += 1;
      for (std::int64_t u = 0; u < n; ++u) mu[c][u] += ht[i][u];
    }
    for (int c = 0; c < 2; ++c) {
      for (auto& v : mu[c]) v /= cnt[c];
    }
    auto dist2 = [&](const std::vector<double>& h, int c) {
      double s2 = 0;
      for (std::int64_t u = 0; u < n; ++u) s2 += (h[u] - mu[c][u]) * (h[u] - mu[c][u]);
      return s2;
    };
    double within = 0, ncm = 0;
    for (std::int64_t i = 0; i < p; ++i) {
      const int c = y.flat<std::int32_t>(i);
      within += dist2(ht[i], c);
      ncm += (dist2(ht[i], 1) < dist2(ht[i], 0) ? 1 : 0) == c;
    }
    EXPECT_NEAR(row[stats::kWithinVar], within / p, 1e-4 * (1 + within / p));
    EXPECT_DOUBLE_EQ(row[stats::kTrainNcmAcc], ncm / p);
    double cd = 0;
    for (std::int64_t u = 0; u < n; ++u) cd += (mu[0][u] - mu[1][u]) * (mu[0][u] - mu[1][u]);
    EXPECT_NEAR(row[stats::kCentroidDist], std::sqrt(cd), 1e-4);
    // Held-out groups.
    for (int g = 0; g < 2; ++g) {
      double gl = 0, ga = 0, gn = 0, count = 0;
      for (std::int64_t i = 0; i < q; ++i) {
        if (hg.flat<std::int32_t>(i) != g) continue;
        std::vector<double> h;
        features(hx, i, h);
        const int c = hy.flat<std::int32_t>(i);
        const double mm = (c ? 1 : -1) * output(h);
        gl += std::log1p(std::exp(-mm));
        ga += mm > 0;
        gn += (dist2(h, 1) < dist2(h, 0) ? 1 : 0) == c;
        count += 1;
      }
      const int col = stats::group_column(2, g);
      EXPECT_NEAR(row[col], gl / count, tol);
      EXPECT_NEAR(row[col + 1], std::log10(gl / count), 1e-5);
      EXPECT_DOUBLE_EQ(row[col + 2], ga / count);
      EXPECT_DOUBLE_EQ(row[col + 3], gn / count);
    }
    // Norms and movement.
    double n1 = 0, n2 = 0, d1 = 0, i1 = 0;
    for (std::int64_t e = 0; e < n * d; ++e) {
      const double v = w1.flat<float>(m * n * d + e), v0 = w_init.flat<float>(m * n * d + e);
      n1 += v * v;
      d1 += (v - v0) * (v - v0);
      i1 += v0 * v0;
    }
    for (std::int64_t e = 0; e < n; ++e) n2 += std::pow(double(w2.flat<float>(m * n + e)), 2);
    EXPECT_NEAR(row[stats::layer_column(0)], std::sqrt(n1), 1e-5);
    EXPECT_NEAR(row[stats::layer_column(0) + 1], std::sqrt(d1 / i1), 1e-5);
    EXPECT_NEAR(row[stats::kMarginReadout], row[stats::kMarginMin] / std::sqrt(n2), 1e-5);
    EXPECT_NEAR(row[stats::kMarginNormProd], row[stats::kMarginMin] / std::sqrt(n1 * n2), 1e-5);
    EXPECT_GT(row[stats::kGradNorm], 0);
  }
}

TEST(Monitor, FilesSummaryOnsetAndFlips) {
  Context ctx;
  const std::int64_t p = 32, q = 9;
  const TaskData s = make_data(ctx, p, q, 4, 3);
  TrainRun r = make_run(ctx, s.train, 1);
  test::TempDir dir;
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 1);
  spec.log_every = 16;
  spec.onset_window = 10;
  spec.run_dirs = {dir.file("run0")};
  spec.snapshots = true;
  spec.snapshot_examples = 4;
  spec.summary_extra_json = R"({"task": "unit"})";
  metrics::Monitor mon(*r.trainer, *r.mlp, s.train, s.held, spec);
  mon.run(300);
  mon.finish();
  const auto& rs = rows[0];
  ASSERT_EQ(rs.size(), 301u);
  // metrics.csv: a header and one line per row.
  std::ifstream csv(dir.file("run0/metrics.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("step,train_loss,", 0), 0u) << line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 301);
  // examples.npy: the margins of every row (train, then held-out).
  const Tensor ex = read_npy(dir.file("run0/examples.npy"));
  ASSERT_EQ(ex.shape(), (Shape{301, p + q}));
  for (std::size_t i = 0; i < rs.size(); i += 50) {
    float mn = 1e30f;
    for (std::int64_t j = 0; j < p; ++j) mn = std::min(mn, ex.flat<float>(static_cast<std::int64_t>(i) * (p + q) + j));
    EXPECT_EQ(mn, static_cast<float>(rs[i][stats::kMarginMin]));
  }
  // Onset: the first step from which train accuracy is 1 for the whole window.
  std::int64_t expected_onset = -1;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    bool holds = true;
    for (std::size_t j = i; j < rs.size() && rs[j][stats::kStep] <= rs[i][stats::kStep] + 10; ++j) {
      holds = holds && rs[j][stats::kTrainAcc] == 1.0;
    }
    if (holds && rs[i][stats::kTrainAcc] == 1.0) {
      expected_onset = static_cast<std::int64_t>(rs[i][stats::kStep]);
      break;
    }
  }
  ASSERT_GE(expected_onset, 0) << "the task should be learned in 300 steps";
  std::ifstream js(dir.file("run0/summary.json"));
  std::stringstream buf;
  buf << js.rdbuf();
  const nlohmann::json sum = nlohmann::json::parse(buf.str());
  EXPECT_EQ(sum["onset"]["step"].get<std::int64_t>(), expected_onset);
  EXPECT_EQ(sum["task"], "unit");
  EXPECT_EQ(sum["steps"], 300);
  EXPECT_NEAR(sum["final"]["train_loss"].get<double>(), rs.back()[stats::kTrainLoss], 1e-12);
  // Flips: the first-correct step of each held-out example from the rows' margins.
  for (std::int64_t i = 0; i < q; ++i) {
    std::int64_t first = -1, n_flips = 0;
    for (std::size_t t = 0; t < rs.size(); ++t) {
      const bool ok = ex.flat<float>(static_cast<std::int64_t>(t) * (p + q) + p + i) > 0;
      if (first < 0 && ok) first = static_cast<std::int64_t>(rs[t][stats::kStep]);
      if (t > 0 && ok != (ex.flat<float>(static_cast<std::int64_t>(t - 1) * (p + q) + p + i) > 0)) ++n_flips;
    }
    EXPECT_EQ(sum["flips"]["first_correct"][static_cast<std::size_t>(i)].get<std::int64_t>(), first);
    EXPECT_EQ(sum["flips"]["n_flips"][static_cast<std::size_t>(i)].get<std::int64_t>(), n_flips);
  }
  // Snapshots at 0, 1, 2, 5, ..., 200 and the end.
  const std::vector<std::int64_t> snaps = sum["snapshots"].get<std::vector<std::int64_t>>();
  EXPECT_EQ(snaps, (std::vector<std::int64_t>{0, 1, 2, 5, 10, 20, 50, 100, 200, 300}));
  const Tensor snap = read_npy(dir.file("run0/snapshots/step_0000000300.npy"));
  EXPECT_EQ(snap.shape(), (Shape{4, 16}));
}

TEST(Monitor, MinibatchAndDropoutUseACleanForward) {
  Context ctx;
  const TaskData s = make_data(ctx, 40, 8, 5, 4);
  TrainRun r = make_run(ctx, s.train, 2, /*batch=*/8, /*dropout=*/0.3);
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 2);
  spec.log_every = 4;
  metrics::Monitor mon(*r.trainer, *r.mlp, s.train, s.held, spec);
  mon.run(12);
  mon.finish();
  // The final train loss is the full-batch loss without dropout: recompute it with an eval tape.
  Tape tape(ctx);
  nn::RngRef rng;
  rng.train = false;
  const Var logits = r.mlp->forward(tape, tape.input(s.train.x), rng);
  ops::LossSpec ls;
  ls.kind = LossKind::logistic;
  const nn::LossOutput out = nn::loss(tape, logits, ls, s.train.labels);
  const std::vector<float> loss = out.value.to_vector<float>();
  for (int m = 0; m < 2; ++m) EXPECT_EQ(rows[static_cast<std::size_t>(m)].back()[stats::kTrainLoss], loss[m]);
  EXPECT_EQ(rows[0].size(), 13u);
}

TEST(Monitor, PgdAccuracyIsBelowCleanAccuracy) {
  Context ctx;
  const TaskData s = make_data(ctx, 40, 30, 5, 5);
  TrainRun r = make_run(ctx, s.train, 1);
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 1);
  spec.log_every = 10;
  spec.probe_every = 50;
  spec.periodic.pgd.epsilon = 0.3;
  metrics::Monitor mon(*r.trainer, *r.mlp, s.train, s.held, spec);
  mon.run(100);
  mon.finish();
  const int pgd = column(mon, "pgd_acc");
  int computed = 0;
  for (const auto& row : rows[0]) {
    if (metrics::is_not_computed(row[static_cast<std::size_t>(pgd)])) continue;
    ++computed;
    EXPECT_LE(row[static_cast<std::size_t>(pgd)], row[stats::kHeldoutAcc]);
  }
  EXPECT_EQ(computed, 3);  // steps 0, 50, 100
  EXPECT_LT(rows[0].back()[static_cast<std::size_t>(pgd)], rows[0].back()[stats::kHeldoutAcc]);
  // A vanishing radius leaves the accuracy unchanged.
  metrics::PgdSpec tiny;
  tiny.epsilon = 1e-12;
  const Tensor m0 = metrics::pgd_margins(*r.mlp, s.held.x, s.held.labels, tiny).to_host();
  double acc = 0;
  for (std::int64_t i = 0; i < m0.numel(); ++i) acc += m0.flat<double>(i) > 0;
  EXPECT_DOUBLE_EQ(acc / 30, rows[0].back()[stats::kHeldoutAcc]);
}

// The odor task of SCIENCE.md: the held-out set is the test group plus one probe group per
// overlap, and probe accuracy at overlap 1 ends at least as high as at overlap 8.
TEST(Monitor, OdorTaskProbeGroups) {
  Context ctx;
  tasks::OdorSpec os;
  os.odorants = 40;
  os.odor_size = 10;
  os.non_targets = 40;
  os.glomeruli = 30;
  os.probes_per_group = 10;
  os.test_non_targets = 10;
  const tasks::Dataset data = tasks::make_odor_task(os, ctx);
  const tasks::Dataset::Split tr = data.split("train", ctx);
  const metrics::HeldOut held = data.held_out(ctx);
  EXPECT_EQ(held.group_names, (std::vector<std::string>{"test", "probe_overlap_1", "probe_overlap_2", "probe_overlap_4",
                                                        "probe_overlap_8"}));
  ASSERT_EQ(held.x.dim(0), 50);
  const nn::TrainData train{tr.x, tr.y, Tensor(), Tensor()};
  TrainRun r = make_run(ctx, train, 2);
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 2);
  spec.log_every = 50;
  metrics::Monitor mon(*r.trainer, *r.mlp, train, held, spec);
  mon.run(400);
  mon.finish();
  for (int m = 0; m < 2; ++m) {
    const auto& last = rows[static_cast<std::size_t>(m)].back();
    EXPECT_EQ(last[stats::kTrainAcc], 1.0);
    EXPECT_GE(last[static_cast<std::size_t>(column(mon, "probe_overlap_1_acc"))],
              last[static_cast<std::size_t>(column(mon, "probe_overlap_8_acc"))]);
    // The pooled held-out accuracy is the size-weighted mean of the group accuracies.
    double pooled = 0;
    for (const std::string& g : held.group_names)
      pooled += last[static_cast<std::size_t>(column(mon, g + "_acc"))] * 10;
    EXPECT_NEAR(last[stats::kHeldoutAcc], pooled / 50, 1e-12);
  }
}

// The periodic columns hold what the statistics' functions give on the final parameters (wiring
// and column order), with NaN-free values on a separable task, and empty cells elsewhere.
TEST(Monitor, PeriodicColumnsMatchDirectCalls) {
  Context ctx;
  const TaskData s = make_data(ctx, 48, 18, 5, 7);
  TrainRun r = make_run(ctx, s.train, 2);
  Rows rows;
  metrics::MonitorSpec spec = collecting(rows, 2);
  spec.log_every = 20;
  spec.probe_every = 100;
  // Reference dissimilarity: 4 means (2 classes + 2 groups).
  Tensor ref = Tensor::host({4, 4}, DType::f64);
  const double d[16] = {0, 1, 2, 3, 1, 0, 1.5, 2.5, 2, 1.5, 0, 1, 3, 2.5, 1, 0};
  for (int i = 0; i < 16; ++i) ref.flat<double>(i) = d[i];
  spec.periodic.rsa_reference = ref;
  metrics::Monitor mon(*r.trainer, *r.mlp, s.train, s.held, spec);
  mon.run(250);
  mon.finish();
  // Features at the final parameters and the direct calls.
  auto feats = [&](const Tensor& x) {
    Tape tape(ctx);
    nn::RngRef rng;
    rng.train = false;
    r.mlp->forward(tape, tape.input(x), rng);
    return tape.value(tape.tagged("features"));
  };
  metrics::ProbeSet set;
  set.train_features = feats(s.train.x);
  set.train_labels = s.train.labels;
  set.test_features = feats(s.held.x);
  set.test_labels = s.held.labels;
  set.test_groups = s.held.groups;
  set.groups = 2;
  const metrics::SvmStats svm = metrics::svm_max_margin(set.train_features, s.train.labels, 2, {}, ctx);
  const metrics::RidgeProbeResult ridge = metrics::ridge_probe(set, 1e-3, ctx);
  const metrics::LogisticProbeResult logi = metrics::logistic_probe(set, 1e-3, 500, 1e-6, ctx);
  const metrics::FisherResult fis = metrics::fisher(set, 1, 1e-3, ctx);
  const Tensor rs = metrics::rsm(set, ctx);
  const std::vector<double> rsa = metrics::rsa_spearman(rs, ref);
  const std::vector<double> kta = metrics::kernel_alignment(set.train_features, s.train.labels, 2, ctx);
  for (std::size_t m = 0; m < 2; ++m) {
    const auto& last = rows[m].back();
    auto col = [&](const std::string& name) { return last[static_cast<std::size_t>(column(mon, name))]; };
    EXPECT_EQ(col("svm_margin"), svm.margin[m]);
    EXPECT_EQ(col("svm_closest_5pct"), svm.closest_5pct[m]);
    EXPECT_EQ(col("svm_separable"), svm.separable[m]);
    EXPECT_EQ(col("ridge_heldout_acc"), ridge.test_accuracy[m]);
    EXPECT_EQ(col("ridge_probe_acc"), ridge.group_accuracy[m * 2 + 1]);
    EXPECT_EQ(col("logistic_heldout_loss"), logi.test_log_loss[m]);
    EXPECT_EQ(col("logistic_test_acc"), logi.group_accuracy[m * 2 + 0]);
    EXPECT_EQ(col("fisher_train_J"), fis.criterion[m * 3 + 0]);
    EXPECT_EQ(col("fisher_probe_dist"), fis.centroid_distance[m * 3 + 2]);
    EXPECT_EQ(col("rsm_class1_test"), rs.flat<double>((static_cast<std::int64_t>(m) * 4 + 1) * 4 + 2));
    EXPECT_EQ(col("rsa_spearman"), rsa[m]);
    EXPECT_EQ(col("kernel_alignment"), kta[m]);
    EXPECT_EQ(col("train_acc"), 1.0);
    EXPECT_EQ(col("svm_separable"), 1.0);
    EXPECT_GT(col("svm_margin"), 0.0);
    // svm_margin = 1/||w|| equals the bound ||w|| / sum a only at the exact optimum; the solver stops
    // at a KKT violation < tol = 1e-6, so the two may cross by O(tol) relative (1.8e-7 seen).
    EXPECT_LE(col("svm_margin"), col("svm_margin_bound") * (1 + 1e-5))
        << std::setprecision(17) << col("svm_margin") << " " << col("svm_margin_bound");
  }
  // Periodic columns exist at steps 0, 100, 200 and the end only.
  int computed = 0;
  for (const auto& row : rows[0])
    computed += !metrics::is_not_computed(row[static_cast<std::size_t>(column(mon, "kernel_alignment"))]);
  EXPECT_EQ(computed, 4);
}

TEST(Monitor, BadSpecsAreErrors) {
  Context ctx;
  const TaskData s = make_data(ctx, 16, 4, 3, 6);
  TrainRun r = make_run(ctx, s.train, 1);
  metrics::MonitorSpec spec;
  spec.every = 3;
  spec.log_every = 10;
  EXPECT_THROW(metrics::Monitor(*r.trainer, *r.mlp, s.train, s.held, spec), Error);
  spec.log_every = 9;
  spec.probe_every = 4;
  EXPECT_THROW(metrics::Monitor(*r.trainer, *r.mlp, s.train, s.held, spec), Error);
  spec.probe_every = 0;
  spec.run_dirs = {"a", "b"};
  EXPECT_THROW(metrics::Monitor(*r.trainer, *r.mlp, s.train, s.held, spec), Error);
}

}  // namespace
}  // namespace groove
