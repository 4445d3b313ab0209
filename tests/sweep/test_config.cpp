// Config parsing, overrides, defaults and every kind of config error (sweep/config.h).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "runtime/error.h"
#include "sweep/config.h"

namespace groove::sweep {
namespace {

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    Config::parse(yaml, "exp.yaml", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsFillEveryKey) {
  const Config c = Config::parse("", "empty.yaml");
  for (const KeyInfo& k : schema()) {
    EXPECT_EQ(c.setting(k.key).where, "default") << k.key;
  }
  EXPECT_EQ(c.integer("steps"), 10000);
  EXPECT_EQ(c.integers("model.hidden"), (std::vector<std::int64_t>{500}));
  EXPECT_EQ(c.string("model.parameterization"), "mean_field");
  EXPECT_DOUBLE_EQ(c.number("optimizer.lr"), 0.01);
  EXPECT_FALSE(c.boolean("model.bias"));
  EXPECT_EQ(c.integers("task.odor.probe_overlaps"), (std::vector<std::int64_t>{1, 2, 4, 8}));
}

TEST(Config, NestedYamlAndWhereEachValueCameFrom) {
  const Config c = Config::parse(
      "steps: 200\n"
      "model:\n"
      "  hidden: [64, 32]\n"
      "  gamma: 0.5\n"
      "optimizer: {lr: 1e-3, kind: adam}\n",
      "exp.yaml");
  EXPECT_EQ(c.integer("steps"), 200);
  EXPECT_EQ(c.integers("model.hidden"), (std::vector<std::int64_t>{64, 32}));
  EXPECT_DOUBLE_EQ(c.number("model.gamma"), 0.5);
  EXPECT_DOUBLE_EQ(c.number("optimizer.lr"), 1e-3);
  EXPECT_EQ(c.string("optimizer.kind"), "adam");
  EXPECT_EQ(c.setting("steps").where, "exp.yaml:1");
  EXPECT_EQ(c.setting("model.gamma").where, "exp.yaml:4");
  EXPECT_EQ(c.setting("optimizer.kind").where, "exp.yaml:5");
}

TEST(Config, DottedKeysAtTopLevelAreAccepted) {
  const Config c = Config::parse("model.gamma: 0.25\n", "exp.yaml");
  EXPECT_DOUBLE_EQ(c.number("model.gamma"), 0.25);
}

TEST(Config, OverridesInBothStylesWinOverTheFile) {
  const std::vector<std::string> args = {"model.gamma=0.1",     "--optimizer.lr", "0.5", "--steps=30",
                                         "model.hidden=[8, 8]", "--model.bias",   "true"};
  const std::vector<std::string> o = Config::overrides_from_args(args);
  EXPECT_EQ(o, (std::vector<std::string>{"model.gamma=0.1", "optimizer.lr=0.5", "steps=30", "model.hidden=[8, 8]",
                                         "model.bias=true"}));
  const Config c = Config::parse("model: {gamma: 2}\nsteps: 10\n", "exp.yaml", o);
  EXPECT_DOUBLE_EQ(c.number("model.gamma"), 0.1);
  EXPECT_DOUBLE_EQ(c.number("optimizer.lr"), 0.5);
  EXPECT_EQ(c.integer("steps"), 30);
  EXPECT_EQ(c.integers("model.hidden"), (std::vector<std::int64_t>{8, 8}));
  EXPECT_TRUE(c.boolean("model.bias"));
  EXPECT_EQ(c.setting("model.gamma").where, "override 'model.gamma=0.1'");
  // A scalar where a list is expected is a one-element list.
  EXPECT_EQ(Config::parse("", "x", {"model.hidden=16"}).integers("model.hidden"), (std::vector<std::int64_t>{16}));
  EXPECT_THROW(Config::overrides_from_args({"--steps"}), Error);
  EXPECT_THROW(Config::overrides_from_args({"steps"}), Error);
}

TEST(Config, UnknownKeysNameFileLineAndNearestKey) {
  const std::string e = error_of("steps: 3\nmodel:\n  hiden: [4]\n");
  EXPECT_NE(e.find("exp.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'model.hiden'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'model.hidden'"), std::string::npos) << e;
  // The right name under the wrong section.
  const std::string e2 = error_of("optimizer:\n  gamma: 0.5\n");
  EXPECT_NE(e2.find("did you mean 'model.gamma'"), std::string::npos) << e2;
  const std::string e3 = error_of("", {"optimiser.lr=0.1"});
  EXPECT_NE(e3.find("override 'optimiser.lr=0.1'"), std::string::npos) << e3;
  EXPECT_NE(e3.find("did you mean 'optimizer.lr'"), std::string::npos) << e3;
}

TEST(Config, WrongTypesAreErrors) {
  const std::string e = error_of("steps: many\n");
  EXPECT_NE(e.find("exp.yaml:1: steps: expected an integer, got 'many'"), std::string::npos) << e;
  EXPECT_NE(error_of("model:\n  hidden: [4, x]\n").find("model.hidden: expected an integer, got 'x'"),
            std::string::npos);
  EXPECT_NE(error_of("model: {bias: maybe}\n").find("model.bias: expected true or false"), std::string::npos);
  EXPECT_NE(error_of("optimizer: {lr: {a: 1}}\n").find("optimizer.lr: expected a number"), std::string::npos);
  EXPECT_NE(error_of("steps: 2.5\n").find("expected an integer, got '2.5'"), std::string::npos);
  EXPECT_EQ(Config::parse("steps: 1e4\n", "x").integer("steps"), 10000);  // whole numbers in float notation
}

TEST(Config, OutOfRangeAndBadChoicesAreErrors) {
  EXPECT_NE(error_of("optimizer: {lr: 0}\n").find("optimizer.lr must be > 0, got 0"), std::string::npos);
  EXPECT_NE(error_of("model: {dropout: 1.5}\n").find("model.dropout must be in [0, 0.999], got 1.5"),
            std::string::npos);
  EXPECT_NE(error_of("steps: -1\n").find("steps must be in [0,"), std::string::npos);
  const std::string e = error_of("loss: {kind: hing}\n");
  EXPECT_NE(e.find("loss.kind: 'hing' is not one of cross_entropy, logistic, hinge, squared_error"), std::string::npos)
      << e;
  EXPECT_NE(e.find("did you mean 'hinge'"), std::string::npos) << e;
  EXPECT_NE(error_of("precision: fp16\n").find("precision: 'fp16' is not one of"), std::string::npos);
}

TEST(Config, CrossKeyChecksAndMalformedYaml) {
  EXPECT_NE(error_of("metrics: {every: 3, log_every: 10}\n").find("must be a multiple of metrics.every"),
            std::string::npos);
  const std::string e = error_of("steps: [1\n");
  EXPECT_NE(e.find("exp.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
  EXPECT_NE(error_of("- 1\n- 2\n").find("expected a map"), std::string::npos);
  EXPECT_NE(error_of("steps: 1\nsteps: 2\n").find("set twice"), std::string::npos);
  try {
    Config::load("/nonexistent/exp.yaml");
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("cannot open the config file '/nonexistent/exp.yaml'"), std::string::npos);
  }
}

TEST(Config, SweepAxesListsRangesAndLogranges) {
  const Config c = Config::parse(
      "sweep:\n"
      "  seeds: 3\n"
      "  grid:\n"
      "    model.gamma: {logrange: [0.01, 1, 3]}\n"
      "    loss.kind: [logistic, hinge]\n"
      "  zip:\n"
      "    optimizer.lr: {range: [0.1, 0.3, 0.1]}\n"
      "    steps: [10, 20, 30]\n",
      "exp.yaml");
  const SweepAxes& a = c.axes();
  EXPECT_EQ(a.seeds, 3);
  ASSERT_EQ(a.grid.size(), 2u);
  EXPECT_EQ(a.grid[0].key, "model.gamma");
  EXPECT_EQ(a.grid[0].values, (std::vector<std::string>{"0.01", "0.1", "1"}));
  EXPECT_EQ(a.grid[1].values, (std::vector<std::string>{"logistic", "hinge"}));
  ASSERT_EQ(a.zip.size(), 2u);
  EXPECT_EQ(a.zip[0].values, (std::vector<std::string>{"0.1", "0.2", "0.3"}));
  EXPECT_EQ(a.zip[1].values, (std::vector<std::string>{"10", "20", "30"}));
  // Axis values are checked against the key's schema.
  EXPECT_NE(error_of("sweep: {grid: {optimizer.lr: [0.1, -2]}}\n").find("optimizer.lr must be > 0, got -2"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: {grid: {model.gama: [1]}}\n").find("did you mean 'model.gamma'"), std::string::npos);
  EXPECT_NE(error_of("sweep: {zip: {steps: [1, 2], optimizer.lr: [0.1]}}\n").find("same length"), std::string::npos);
  EXPECT_NE(error_of("sweep: {grid: {steps: {range: [1, 5, 0]}}}\n").find("step must be > 0"), std::string::npos);
  EXPECT_NE(error_of("sweep: {seeds: 0}\n").find("sweep.seeds must be an integer >= 1"), std::string::npos);
  // Command-line sweep axes.
  const Config o = Config::parse("", "x", {"sweep.grid.model.gamma=[0.1, 1]", "sweep.seeds=2"});
  ASSERT_EQ(o.axes().grid.size(), 1u);
  EXPECT_EQ(o.axes().grid[0].values, (std::vector<std::string>{"0.1", "1"}));
  EXPECT_EQ(o.axes().seeds, 2);
}

TEST(Config, ResolvedYamlRoundTrips) {
  const Config c = Config::parse("model: {hidden: [16, 8], gamma: 0.3}\ntask: {file: {path: ''}}\n", "exp.yaml",
                                 {"sweep.grid.optimizer.lr=[0.1, 0.2]"});
  const Config back = Config::parse(c.to_yaml(true), "resolved.yaml");
  EXPECT_EQ(back.canonical(), c.canonical());
  ASSERT_EQ(back.axes().grid.size(), 1u);
  EXPECT_EQ(back.axes().grid[0].values, c.axes().grid[0].values);
}

TEST(Config, DocsConfigMdHoldsTheGeneratedSchemaTable) {
  std::ifstream in(std::string(GROOVE_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in.good()) << "docs/config.md is missing";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(schema_markdown()), std::string::npos)
      << "docs/config.md's key table is out of date: regenerate it with `groove config --schema`";
}

}  // namespace
}  // namespace groove::sweep
