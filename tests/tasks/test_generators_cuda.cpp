// Generators on a CUDA context give bitwise the data they give on the CPU. Skipped with a
// message when no GPU is present.
#include <gtest/gtest.h>

#include "tasks/generators.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

class GeneratorsCuda : public test::GpuTest {};

void expect_same(const tasks::Dataset& g, const tasks::Dataset& c) {
  EXPECT_TRUE(g.x.is_cuda());
  EXPECT_TRUE(test::bitwise_equal(g.x, c.x));
  if (c.y.defined()) {
    EXPECT_TRUE(test::bitwise_equal(g.y, c.y));
  }
  if (c.targets.defined()) {
    EXPECT_TRUE(test::bitwise_equal(g.targets, c.targets));
  }
  if (c.weights.defined()) {
    EXPECT_TRUE(test::bitwise_equal(g.weights, c.weights));
  }
}

TEST_F(GeneratorsCuda, EveryGeneratorIsBitwiseEqualToTheCpu) {
  tasks::OdorSpec odor;
  odor.balance = tasks::Balance::weights;
  odor.input_noise = 0.05;
  expect_same(tasks::make_odor_task(odor, *gpu), tasks::make_odor_task(odor, *cpu));
  expect_same(tasks::make_teacher_student({}, *gpu), tasks::make_teacher_student({}, *cpu));
  expect_same(tasks::make_separable({}, *gpu), tasks::make_separable({}, *cpu));
  expect_same(tasks::make_clusters({}, *gpu), tasks::make_clusters({}, *cpu));
  expect_same(tasks::make_deep_linear({}, *gpu), tasks::make_deep_linear({}, *cpu));
  expect_same(tasks::make_modular_addition({}, *gpu), tasks::make_modular_addition({}, *cpu));
  expect_same(tasks::make_sparse_parity({}, *gpu), tasks::make_sparse_parity({}, *cpu));
  const tasks::Dataset d = tasks::make_clusters({}, *gpu);
  const tasks::Dataset::Split s = d.split("test", *gpu);
  EXPECT_TRUE(s.x.is_cuda());
  EXPECT_TRUE(test::bitwise_equal(s.x, tasks::make_clusters({}, *cpu).split("test", *cpu).x));
}

}  // namespace
}  // namespace groove
