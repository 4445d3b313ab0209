// Whole runs through sweep::run_sweep (in-process): the run layout, skip-on-DONE, divergence of
// one model inside an ensemble, a failed ensemble that does not stop the sweep, shards and merge.
// Signals, kill-and-resume and checkpoint fallback run the CLI binary: tests/tools/test_resume.cpp.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runtime/error.h"
#include "runtime/npy.h"
#include "sweep/checkpoint.h"
#include "sweep/runner.h"
#include "tests/common/test_util.h"

namespace fs = std::filesystem;

namespace groove::sweep {
namespace {

std::string read(const std::string& path) {
  return test::read_file(path);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A small, fast classification run.
std::string small_config(const std::string& out, const std::string& extra = "") {
  return "name: t\n"
         "out: " +
         out +
         "\n"
         "device: cpu\n"
         "steps: 300\n"
         "checkpoint_every: 100\n"
         "task: {kind: clusters, clusters: {classes: 2, dim: 6, train_per_class: 20, test_per_class: 10}}\n"
         "model: {hidden: [12], parameterization: standard, bias: true}\n"
         "loss: {kind: logistic}\n"
         "optimizer: {lr: 0.1}\n"
         "metrics: {every: 1, log_every: 50, probe_every: 100, onset_window: 5, logistic: false}\n" +
         extra;
}

std::string write_config(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("exp.yaml");
  std::ofstream(path) << text;
  return path;
}

SweepOptions quiet() {
  SweepOptions o;
  o.progress = false;
  static std::ostringstream sink;
  o.out = &sink;
  return o;
}

TEST(Runner, LayoutOfASweep) {
  test::TempDir dir;
  const std::string cfg = write_config(dir, small_config(dir.file("runs"), "sweep: {seeds: 2}\n"));
  const SweepSummary s = run_sweep(cfg, quiet());
  EXPECT_EQ(s.exit_code, kExitOk);
  EXPECT_EQ(s.done, 2);
  const std::string root = dir.file("runs/t");
  EXPECT_EQ(s.dir, root);
  for (const char* f : {"sweep.yaml", "sweep.json", "runs.csv"}) EXPECT_TRUE(fs::exists(root + "/" + f)) << f;
  // sweep.yaml is the resolved config: it reloads to the same sweep.
  const Config back = Config::load(root + "/sweep.yaml");
  EXPECT_EQ(back.axes().seeds, 2);
  EXPECT_EQ(back.integer("steps"), 300);
  const nlohmann::json sj = nlohmann::json::parse(read(root + "/sweep.json"));
  EXPECT_EQ(sj["runs"], 2);
  EXPECT_EQ(sj["seed_key"], "seed");

  const std::vector<std::string> rows = lines(read(root + "/runs.csv"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].rfind("run_id,status,step,message,seed,onset_step,onset_provisional,final.", 0), 0u) << rows[0];
  EXPECT_EQ(rows[1].rfind("seed=0,done,300,,0,", 0), 0u) << rows[1];
  EXPECT_EQ(rows[2].rfind("seed=1,done,300,,1,", 0), 0u) << rows[2];

  for (int seed = 0; seed < 2; ++seed) {
    const std::string run = root + "/seed=" + std::to_string(seed);
    for (const char* f : {"config.yaml", "metrics.csv", "examples.npy", "summary.json", "status.json", "DONE",
                          "checkpoint/latest.npz", "snapshots"}) {
      EXPECT_TRUE(fs::exists(run + "/" + f)) << run << "/" << f;
    }
    // The run's config: the sweep's, with its own seed and no sweep axes.
    const Config rc = Config::load(run + "/config.yaml");
    EXPECT_EQ(rc.integer("seed"), seed);
    EXPECT_EQ(rc.axes().seeds, 1);
    // One row per step 0..300 (every = 1), the step column first.
    const std::vector<std::string> m = lines(read(run + "/metrics.csv"));
    ASSERT_EQ(m.size(), 302u);
    EXPECT_EQ(m[0].rfind("step,train_loss,", 0), 0u);
    EXPECT_EQ(m[1].rfind("0,", 0), 0u);
    EXPECT_EQ(m[301].rfind("300,", 0), 0u);
    const Tensor ex = read_npy(run + "/examples.npy");
    EXPECT_EQ(ex.dim(0), 301);
    EXPECT_EQ(ex.dim(1), 40 + 20);
    const nlohmann::json sum = nlohmann::json::parse(read(run + "/summary.json"));
    EXPECT_EQ(sum["run_id"], "seed=" + std::to_string(seed));
    EXPECT_EQ(sum["hyper"]["seed"], seed);
    EXPECT_EQ(sum["status"], "done");
    EXPECT_EQ(sum["steps"], 300);
    const nlohmann::json st = nlohmann::json::parse(read(run + "/status.json"));
    EXPECT_EQ(st["status"], "done");
    EXPECT_EQ(st["step"], 300);
    // The final checkpoint holds the final parameters: 6 x 12 + 12 + 12 + 1 values.
    const auto ck = load_checkpoint(run + "/checkpoint");
    ASSERT_TRUE(ck.has_value());
    EXPECT_EQ(ck->ckpt.step, 300);
    ASSERT_FALSE(ck->ckpt.arrays.empty());
    EXPECT_EQ(ck->ckpt.arrays[0].name, "params");
    EXPECT_EQ(ck->ckpt.arrays[0].tensor.numel(), 6 * 12 + 12 + 12 + 1);
  }
  // The two seeds differ (different initializations).
  EXPECT_NE(read(root + "/seed=0/metrics.csv"), read(root + "/seed=1/metrics.csv"));
}

TEST(Runner, RerunSkipsRunsWithDoneAndRedoesTheOthersIdentically) {
  test::TempDir dir;
  const std::string cfg = write_config(dir, small_config(dir.file("runs"), "sweep: {seeds: 2}\n"));
  ASSERT_EQ(run_sweep(cfg, quiet()).done, 2);
  const std::string a = dir.file("runs/t/seed=0"), b = dir.file("runs/t/seed=1");
  const std::string metrics_a = read(a + "/metrics.csv"), metrics_b = read(b + "/metrics.csv");
  // A marker the rerun must not touch.
  std::ofstream(a + "/metrics.csv", std::ios::app) << "marker\n";
  const SweepSummary again = run_sweep(cfg, quiet());
  EXPECT_EQ(again.skipped, 2);
  EXPECT_EQ(again.done, 0);
  EXPECT_EQ(read(a + "/metrics.csv"), metrics_a + "marker\n");
  // Without DONE, a run is trained again (from the start: its checkpoint is the final one), with
  // the same result.
  fs::remove(b + "/DONE");
  std::ofstream(b + "/metrics.csv") << "garbage";
  const SweepSummary third = run_sweep(cfg, quiet());
  EXPECT_EQ(third.skipped, 1);
  EXPECT_EQ(third.done, 1);
  EXPECT_EQ(read(b + "/metrics.csv"), metrics_b);
  EXPECT_TRUE(fs::exists(b + "/DONE"));
}

TEST(Runner, ADivergingModelIsMarkedAndItsEnsembleNeighbourIsUntouched) {
  test::TempDir dir;
  // lr is a per-model key: both runs train in one ensemble.
  const std::string cfg =
      write_config(dir, small_config(dir.file("runs"), "sweep: {grid: {optimizer.lr: [0.1, 1e30]}}\n"));
  const SweepSummary s = run_sweep(cfg, quiet());
  EXPECT_EQ(s.exit_code, kExitOk);
  EXPECT_EQ(s.done, 1);
  EXPECT_EQ(s.diverged, 1);
  const std::string bad = dir.file("runs/t/lr=1e+30_seed=0"), good = dir.file("runs/t/lr=0.1_seed=0");
  const nlohmann::json st = nlohmann::json::parse(read(bad + "/status.json"));
  EXPECT_EQ(st["status"], "diverged");
  const std::int64_t step = st["step"];
  EXPECT_GE(step, 1);
  EXPECT_LT(step, 300);
  EXPECT_NE(st["message"].get<std::string>().find("non-finite at step " + std::to_string(step)), std::string::npos);
  // The reported step is the first row with a non-finite loss or weight norm.
  const std::vector<std::string> m = lines(read(bad + "/metrics.csv"));
  ASSERT_GT(m.size(), static_cast<std::size_t>(step) + 1);
  const std::string first_bad = m[static_cast<std::size_t>(step) + 1];
  EXPECT_TRUE(first_bad.find("nan") != std::string::npos || first_bad.find("inf") != std::string::npos) << first_bad;
  const std::string before = m[static_cast<std::size_t>(step)];
  EXPECT_EQ(before.find("nan"), std::string::npos) << before;
  EXPECT_EQ(nlohmann::json::parse(read(good + "/status.json"))["status"], "done");
  EXPECT_NE(read(dir.file("runs/t/runs.csv")).find("lr=1e+30_seed=0,diverged,"), std::string::npos);
  // The healthy model is bitwise the model trained alone.
  std::ofstream(dir.file("alone.yaml")) << small_config(dir.file("alone"));
  ASSERT_EQ(run_sweep(dir.file("alone.yaml"), quiet()).done, 1);
  EXPECT_EQ(read(dir.file("alone/t/seed=0/metrics.csv")), read(good + "/metrics.csv"));
}

TEST(Runner, AFailedEnsembleIsRecordedAndTheSweepGoesOn) {
  test::TempDir dir;
  // A valid NPZ dataset, and a path that does not exist: two shapes, two ensembles.
  Tensor x = Tensor::host({8, 3}, DType::f32), y = Tensor::host({8}, DType::i32);
  for (int i = 0; i < 8; ++i) {
    y.flat<std::int32_t>(i) = i % 2;
    for (int j = 0; j < 3; ++j) x.flat<float>(i * 3 + j) = static_cast<float>((i % 2 ? 1 : -1) * (j + 1) + 0.1 * i);
  }
  write_npz(dir.file("good.npz"), {{"X_train", x}, {"y_train", y}});
  std::string text = small_config(dir.file("runs"), "sweep: {grid: {task.file.path: [good.npz, missing.npz]}}\n");
  text.replace(text.find("task: {kind: clusters"), std::string("task: {kind: clusters").size(), "task: {kind: npz");
  const std::string cfg = write_config(dir, text);
  const SweepSummary s = run_sweep(cfg, quiet());
  EXPECT_EQ(s.exit_code, kExitError);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.done, 1);
  const nlohmann::json st = nlohmann::json::parse(read(dir.file("runs/t/path=missing.npz_seed=0/status.json")));
  EXPECT_EQ(st["status"], "failed");
  EXPECT_NE(st["message"].get<std::string>().find("missing.npz"), std::string::npos) << st["message"];
  EXPECT_FALSE(fs::exists(dir.file("runs/t/path=missing.npz_seed=0/DONE")));
  EXPECT_TRUE(fs::exists(dir.file("runs/t/path=good.npz_seed=0/DONE")));
  EXPECT_NE(read(dir.file("runs/t/runs.csv")).find("path=missing.npz_seed=0,failed,0,"), std::string::npos);
}

TEST(Runner, ShardsPartitionTheRunsAndMergeBuildsRunsCsv) {
  test::TempDir dir;
  std::string text = small_config(dir.file("runs"), "sweep: {seeds: 5}\n");
  text.replace(text.find("steps: 300"), 10, "steps: 20");
  const std::string cfg = write_config(dir, text);
  std::set<std::string> trained;
  for (int i = 0; i < 2; ++i) {
    SweepOptions o = quiet();
    o.shard = std::to_string(i) + "/2";
    const SweepSummary s = run_sweep(cfg, o);
    EXPECT_EQ(s.selected, i == 0 ? 3 : 2);
    EXPECT_EQ(s.done, s.selected);
    const std::vector<std::string> rows =
        lines(read(dir.file("runs/t/shards/runs-" + std::to_string(i) + "-of-2.csv")));
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(s.selected) + 1);
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const std::string id = rows[r].substr(0, rows[r].find(','));
      EXPECT_TRUE(trained.insert(id).second) << id << " trained by two shards";
      EXPECT_NE(rows[r].find(",done,20,"), std::string::npos) << rows[r];
    }
  }
  EXPECT_EQ(trained.size(), 5u);
  EXPECT_FALSE(fs::exists(dir.file("runs/t/runs.csv")));
  merge_sweep(dir.file("runs/t"));
  const std::vector<std::string> rows = lines(read(dir.file("runs/t/runs.csv")));
  ASSERT_EQ(rows.size(), 6u);
  for (std::size_t r = 1; r < rows.size(); ++r) EXPECT_NE(rows[r].find(",done,20,"), std::string::npos) << rows[r];
  EXPECT_THROW(merge_sweep(dir.file("runs")), Error);
}

TEST(Runner, ACheckpointOfAnotherConfigurationFailsThatRunOnly) {
  test::TempDir dir;
  const std::string cfg = write_config(dir, small_config(dir.file("runs"), "sweep: {seeds: 3}\n"));
  ASSERT_EQ(run_sweep(cfg, quiet()).done, 3);
  fs::remove(dir.file("runs/t/seed=1/DONE"));
  fs::remove(dir.file("runs/t/seed=2/DONE"));
  // seed=2's checkpoints are both unreadable; seed=1's were written with another learning rate.
  std::ofstream(dir.file("runs/t/seed=2/checkpoint/latest.npz")) << "garbage";
  std::ofstream(dir.file("runs/t/seed=2/checkpoint/previous.npz")) << "garbage";
  SweepOptions o = quiet();
  o.overrides = {"optimizer.lr=0.2"};
  const SweepSummary s = run_sweep(cfg, o);
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.exit_code, kExitError);
  const nlohmann::json st = nlohmann::json::parse(read(dir.file("runs/t/seed=1/status.json")));
  EXPECT_EQ(st["status"], "failed");
  EXPECT_NE(st["message"].get<std::string>().find("different configuration"), std::string::npos) << st["message"];
  const nlohmann::json st2 = nlohmann::json::parse(read(dir.file("runs/t/seed=2/status.json")));
  EXPECT_EQ(st2["status"], "failed");
  EXPECT_NE(st2["message"].get<std::string>().find("latest.npz"), std::string::npos) << st2["message"];
  EXPECT_NE(st2["message"].get<std::string>().find("previous.npz"), std::string::npos) << st2["message"];
  // Nothing of theirs was overwritten: the metrics of the finished training are intact.
  EXPECT_EQ(lines(read(dir.file("runs/t/seed=1/metrics.csv"))).size(), 302u);
}

TEST(Runner, GrooveRunRefusesASweepAndBadConfigsStopEarly) {
  test::TempDir dir;
  const std::string cfg = write_config(dir, small_config(dir.file("runs"), "sweep: {seeds: 2}\n"));
  SweepOptions o = quiet();
  o.single_run = true;
  try {
    run_sweep(cfg, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use groove sweep"), std::string::npos) << e.what();
  }
  o.single_run = false;
  o.overrides = {"model.hidden=[0]"};
  EXPECT_THROW(run_sweep(cfg, o), Error);
  EXPECT_FALSE(fs::exists(dir.file("runs")));
  // Dry run: nothing is written.
  o.overrides = {};
  o.dry_run = true;
  std::ostringstream text;
  o.out = &text;
  const SweepSummary s = run_sweep(cfg, o);
  EXPECT_EQ(s.runs, 2);
  EXPECT_NE(text.str().find("2 runs"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("1 ensemble by shape"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("predicted device memory"), std::string::npos) << text.str();
  EXPECT_FALSE(fs::exists(dir.file("runs")));
}

}  // namespace
}  // namespace groove::sweep
