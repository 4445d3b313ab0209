// Sweep expansion, run ids, grouping into ensembles by shape, and the memory estimate
// (sweep/sweep.h).
#include <gtest/gtest.h>

#include <set>

#include "runtime/error.h"
#include "sweep/sweep.h"

namespace groove::sweep {
namespace {

TEST(SweepExpand, GridTimesZipTimesSeedsInOrder) {
  const Config c = Config::parse(
      "seed: 10\n"
      "sweep:\n"
      "  seeds: 2\n"
      "  grid: {model.gamma: [0.1, 1], loss.kind: [logistic, hinge, squared_error]}\n"
      "  zip: {optimizer.lr: [0.1, 0.2], steps: [5, 6]}\n",
      "exp.yaml");
  const std::vector<RunSpec> runs = expand(c);
  ASSERT_EQ(runs.size(), 2u * 3u * 2u * 2u);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    EXPECT_EQ(r.index, static_cast<std::int64_t>(i));
    ids.insert(r.id);
    // Digits: gamma (slowest), loss, zip, seed (fastest).
    const std::size_t seed = i % 2, zip = (i / 2) % 2, loss = (i / 4) % 3, gamma = i / 12;
    EXPECT_DOUBLE_EQ(r.config.number("model.gamma"), gamma == 0 ? 0.1 : 1.0);
    EXPECT_EQ(r.config.string("loss.kind"), (std::vector<std::string>{"logistic", "hinge", "squared_error"})[loss]);
    EXPECT_DOUBLE_EQ(r.config.number("optimizer.lr"), zip == 0 ? 0.1 : 0.2);
    EXPECT_EQ(r.config.integer("steps"), zip == 0 ? 5 : 6);
    EXPECT_EQ(r.config.integer("seed"), 10 + static_cast<std::int64_t>(seed));
    ASSERT_EQ(r.hyper.size(), 5u);
    EXPECT_EQ(r.hyper.back(), (std::pair<std::string, std::string>{"seed", std::to_string(10 + seed)}));
    EXPECT_TRUE(r.config.axes().grid.empty() && r.config.axes().seeds == 1);
  }
  EXPECT_EQ(ids.size(), runs.size()) << "run ids must be distinct";
  EXPECT_EQ(runs[0].id, "gamma=0.1_kind=logistic_lr=0.1_steps=5_seed=10");
}

TEST(SweepExpand, SingleRunAndAmbiguousLabels) {
  const std::vector<RunSpec> one = expand(Config::parse("", "x"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, "seed=0");
  // Two axes with the same last part keep their full keys; lists become dash-joined tokens.
  const std::vector<RunSpec> runs =
      expand(Config::parse("sweep: {grid: {model.dropout: [0.1], model.bionet.dropout1: [0.2]}}\n", "x"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, "dropout=0.1_dropout1=0.2_seed=0");
  const std::vector<RunSpec> lists = expand(Config::parse("sweep: {grid: {model.hidden: [[8, 8], [16]]}}\n", "x"));
  EXPECT_EQ(lists[0].id, "hidden=8-8_seed=0");
  EXPECT_EQ(lists[1].id, "hidden=16_seed=0");
}

TEST(SweepGroups, PerModelKeysShareAnEnsembleShapeKeysSplit) {
  const Config c = Config::parse(
      "sweep:\n"
      "  seeds: 3\n"
      "  grid: {model.gamma: [0.1, 1], optimizer.lr: [0.1, 0.2], model.hidden: [[8], [16]]}\n",
      "exp.yaml");
  const std::vector<RunSpec> runs = expand(c);
  ASSERT_EQ(runs.size(), 24u);
  const std::vector<Group> groups = group_runs(runs);
  ASSERT_EQ(groups.size(), 2u) << "gamma, lr and seed vary within an ensemble; the width does not";
  std::set<std::int64_t> all;
  for (const Group& g : groups) {
    EXPECT_EQ(g.runs.size(), 12u);
    const auto width = runs[static_cast<std::size_t>(g.runs[0])].config.integers("model.hidden");
    for (std::int64_t i : g.runs) {
      EXPECT_EQ(runs[static_cast<std::size_t>(i)].config.integers("model.hidden"), width);
      EXPECT_TRUE(all.insert(i).second);
    }
  }
  EXPECT_EQ(all.size(), runs.size());
  // A cap on the ensemble size splits a shape into several groups.
  const std::vector<Group> capped = group_runs(runs, 5);
  EXPECT_EQ(capped.size(), 6u);  // 12 = 5 + 5 + 2, twice
  for (const Group& g : capped) EXPECT_LE(g.runs.size(), 5u);
  // Extra keys (the step each run resumes from) split a shape: equal keys share a group.
  std::vector<std::string> extra(runs.size(), "0");
  for (std::size_t i = 0; i < runs.size(); i += 3) extra[i] = "500";
  const std::vector<Group> split = group_runs(runs, 4096, extra);
  ASSERT_EQ(split.size(), 4u);
  for (const Group& g : split) {
    for (std::int64_t i : g.runs)
      EXPECT_EQ(extra[static_cast<std::size_t>(i)], extra[static_cast<std::size_t>(g.runs[0])]);
  }
  EXPECT_THROW(group_runs(runs, 4096, {"0"}), Error);
}

TEST(SweepMemory, EstimateFollowsTheShapes) {
  const Config c = Config::parse("model: {hidden: [100]}\nprecision: fp32\noptimizer: {kind: adam}\n", "x");
  DataShape d;
  d.train = 50;
  d.heldout = 10;
  d.dim = 20;
  d.classes = 2;
  d.groups = 1;
  const MemoryEstimate one = estimate_memory(c, 1, d);
  const MemoryEstimate eight = estimate_memory(c, 8, d);
  // Parameters: 20 x 100 + 100 x 1 (logistic: one output, no bias), three copies, 4 bytes.
  EXPECT_EQ(one.params, 3 * (20 * 100 + 100) * 4);
  EXPECT_EQ(one.optimizer, 2 * (20 * 100 + 100) * 4);  // Adam: two states
  EXPECT_EQ(eight.params, 8 * one.params);
  EXPECT_EQ(eight.activations, 8 * one.activations);
  EXPECT_EQ(one.data, eight.data);
  const Config f64 = Config::parse("model: {hidden: [100]}\nprecision: fp64\n", "x");
  EXPECT_EQ(estimate_memory(f64, 1, d).params, 2 * one.params);
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3 * 1024 * 1024), "3.0 MiB");
}

}  // namespace
}  // namespace groove::sweep
