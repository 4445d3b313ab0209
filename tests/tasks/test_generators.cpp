// The dataset generators: shapes, label balance, the exact overlap of every probe odor,
// determinism, the separable set's max-margin direction, whitening and the spectrum of the
// deep-linear task, modular and parity labels, and validation of bad datasets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tasks/generators.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using tasks::Dataset;

double at(const Tensor& t, std::int64_t i) {
  return t.dtype() == DType::f32 ? t.flat<float>(i) : t.flat<double>(i);
}

std::int64_t count_label(const Dataset& d, const std::string& group, int label) {
  std::int64_t c = 0;
  for (std::int32_t i : d.group(group).indices) c += d.y.flat<std::int32_t>(i) == label;
  return c;
}

void expect_identical(const Dataset& a, const Dataset& b) {
  EXPECT_TRUE(test::bitwise_equal(a.x, b.x));
  if (a.y.defined()) {
    EXPECT_TRUE(test::bitwise_equal(a.y, b.y));
  }
  if (a.targets.defined()) {
    EXPECT_TRUE(test::bitwise_equal(a.targets, b.targets));
  }
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (std::size_t g = 0; g < a.groups.size(); ++g) EXPECT_EQ(a.groups[g].indices, b.groups[g].indices);
}

TEST(OdorTask, DefaultsFollowTheScienceSpec) {
  Context ctx;
  tasks::OdorSpec spec;
  spec.seed = 3;
  const Dataset d = tasks::make_odor_task(spec, ctx);
  // 200 target copies (repetition balancing) + 200 non-targets; 50 test; 4 probe groups of 20.
  EXPECT_EQ(d.group("train").indices.size(), 400u);
  EXPECT_EQ(count_label(d, "train", 1), 200);
  EXPECT_EQ(count_label(d, "train", 0), 200);
  EXPECT_EQ(d.group("test").indices.size(), 50u);
  EXPECT_EQ(d.x.shape(), (Shape{400 + 50 + 80, 100}));
  const Tensor& odors = d.truth.at("odors");
  const Tensor& target = d.truth.at("target_odorants");
  std::set<std::int32_t> target_set;
  for (std::int64_t i = 0; i < target.numel(); ++i) target_set.insert(target.flat<std::int32_t>(i));
  EXPECT_EQ(target_set.size(), 10u);
  auto overlap = [&](std::int32_t row) {
    int n = 0, size = 0;
    for (std::int64_t o = 0; o < 100; ++o) {
      if (odors.flat<std::int32_t>(row * 100 + o)) {
        ++size;
        n += target_set.count(static_cast<std::int32_t>(o)) ? 1 : 0;
      }
    }
    EXPECT_EQ(size, 10) << "row " << row << " is not a 10-hot odor";
    return n;
  };
  std::set<std::vector<std::int32_t>> distinct;
  for (const tasks::Group& g : d.groups) {
    for (std::int32_t row : g.indices) {
      const int expected = g.name.rfind("probe_overlap_", 0) == 0 ? std::stoi(g.name.substr(14))
                           : d.y.flat<std::int32_t>(row) == 1 ? 10
                                                              : 0;
      EXPECT_EQ(overlap(row), expected) << g.name << " row " << row;  // the overlap property, exactly
      if (d.y.flat<std::int32_t>(row) == 0) {
        std::vector<std::int32_t> o(odors.data<std::int32_t>() + row * 100, odors.data<std::int32_t>() + row * 100 + 100);
        EXPECT_TRUE(distinct.insert(o).second) << "duplicate odor at row " << row;
      }
    }
  }
  for (int o : {1, 2, 4, 8}) EXPECT_EQ(d.group("probe_overlap_" + std::to_string(o)).indices.size(), 20u);
  // x = odor @ projection (Gaussian N(0, 1/10)).
  const Tensor& m = d.truth.at("projection");
  for (std::int64_t j = 0; j < 100; ++j) {
    double v = 0;
    for (std::int32_t o : target_set) v += m.flat<double>(o * 100 + j);
    EXPECT_NEAR(at(d.x, j), v, 1e-5);
  }
}

TEST(OdorTask, WeightsBalancingNoProjectionNoiseAndDeterminism) {
  Context ctx;
  tasks::OdorSpec spec;
  spec.balance = tasks::Balance::weights;
  spec.projection = tasks::Projection::none;
  spec.probe_overlaps = {3};
  spec.input_noise = 0.1;
  spec.dtype = DType::f64;
  const Dataset d = tasks::make_odor_task(spec, ctx);
  EXPECT_EQ(count_label(d, "train", 1), 1);
  EXPECT_EQ(d.weights.flat<double>(0), 200.0);
  EXPECT_EQ(d.weights.flat<double>(1), 1.0);
  EXPECT_EQ(d.dim(), 100);  // no projection: the odorants themselves
  double noise = 0;
  for (std::int64_t j = 0; j < 100; ++j) {
    noise += std::fabs(d.x.flat<double>(j) - d.truth.at("odors").flat<std::int32_t>(j));
  }
  EXPECT_GT(noise, 1.0);
  expect_identical(d, tasks::make_odor_task(spec, ctx));
  spec.seed = 1;
  EXPECT_FALSE(test::bitwise_equal(d.x, tasks::make_odor_task(spec, ctx).x));
  spec.projection = tasks::Projection::sparse;
  spec.sparsity = 0.2;
  const Dataset sparse = tasks::make_odor_task(spec, ctx);
  std::int64_t zeros = 0;
  const Tensor& m = sparse.truth.at("projection");
  for (std::int64_t i = 0; i < m.numel(); ++i) zeros += m.flat<double>(i) == 0.0;
  EXPECT_NEAR(double(zeros) / double(m.numel()), 0.8, 0.02);
}

TEST(OdorTask, BadParametersAreClearErrors) {
  Context ctx;
  tasks::OdorSpec spec;
  spec.odorants = 15;  // < 2 * odor_size
  EXPECT_THROW(tasks::make_odor_task(spec, ctx), Error);
  spec = {};
  spec.probe_overlaps = {10};  // a probe with 10 shared odorants would be the target
  EXPECT_THROW(tasks::make_odor_task(spec, ctx), Error);
  spec = {};
  spec.odorants = 12;
  spec.odor_size = 6;
  spec.non_targets = 5;  // only one possible non-target odor: C(6, 6) = 1
  spec.probe_overlaps = {1};
  try {
    tasks::make_odor_task(spec, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
}

TEST(Separable, StatedMaxMarginDirectionIsCorrect) {
  Context ctx;
  tasks::SeparableSpec spec;
  spec.dim = 6;
  spec.margin = 0.7;
  spec.dtype = DType::f64;
  const Dataset d = tasks::make_separable(spec, ctx);
  const Tensor& w = d.truth.at("max_margin_direction");
  auto min_margin = [&](const std::vector<double>& dir) {
    double norm = 0;
    for (double v : dir) norm += v * v;
    double m = INFINITY;
    for (std::int32_t i : d.group("train").indices) {
      double f = 0;
      for (std::int64_t j = 0; j < 6; ++j) f += dir[static_cast<std::size_t>(j)] * d.x.flat<double>(i * 6 + j);
      m = std::min(m, (d.y.flat<std::int32_t>(i) ? 1 : -1) * f / std::sqrt(norm));
    }
    return m;
  };
  const std::vector<double> w_star = w.to_vector<double>();
  EXPECT_NEAR(min_margin(w_star), 0.7, 1e-12);
  EXPECT_EQ(d.info.at("max_margin"), 0.7);
  // Every other direction has a smaller margin.
  tasks::HostRng rng(9, 9);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> other = w_star;
    for (double& v : other) v += 0.05 * rng.normal();
    EXPECT_LT(min_margin(other), 0.7);
  }
  EXPECT_EQ(count_label(d, "train", 1) + count_label(d, "train", 0), 200);
  EXPECT_GT(count_label(d, "train", 1), 70);
}

TEST(Clusters, ShapesBalanceAndNearestCentre) {
  Context ctx;
  tasks::ClustersSpec spec;
  spec.classes = 4;
  spec.separation = 6.0;
  const Dataset d = tasks::make_clusters(spec, ctx);
  EXPECT_EQ(d.x.shape(), (Shape{800, 10}));
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(count_label(d, "train", c), 100);
    EXPECT_EQ(count_label(d, "test", c), 100);
  }
  const Tensor& centers = d.truth.at("centers");
  int correct = 0;
  for (std::int32_t i : d.group("test").indices) {
    int best = 0;
    double best_d = INFINITY;
    for (int c = 0; c < 4; ++c) {
      double dist = 0;
      for (int j = 0; j < 10; ++j) dist += std::pow(at(d.x, i * 10 + j) - centers.flat<double>(c * 10 + j), 2);
      if (dist < best_d) {
        best_d = dist;
        best = c;
      }
    }
    correct += best == d.y.flat<std::int32_t>(i);
  }
  EXPECT_GT(correct, 380);  // well separated at distance 6, stddev 1
}

TEST(TeacherStudent, LabelsAndTargetsComeFromTheTeacher) {
  Context ctx;
  tasks::TeacherStudentSpec spec;
  spec.activation = Activation::tanh;
  const Dataset cls = tasks::make_teacher_student(spec, ctx);
  const Tensor& f = cls.truth.at("teacher.f");
  for (std::int64_t i = 0; i < cls.size(); ++i) EXPECT_EQ(cls.y.flat<std::int32_t>(i), f.flat<double>(i) > 0 ? 1 : 0);
  EXPECT_GT(count_label(cls, "train", 1), 150);
  EXPECT_GT(count_label(cls, "train", 0), 150);
  // Recompute f* for one input from the stored teacher.
  const Tensor& w = cls.truth.at("teacher.w");
  const Tensor& a = cls.truth.at("teacher.a");
  double f0 = 0;
  for (int j = 0; j < 16; ++j) {
    double pre = 0;
    for (int k = 0; k < 32; ++k) pre += w.flat<double>(j * 32 + k) * at(cls.x, k);
    f0 += a.flat<double>(j) * std::tanh(pre);
  }
  EXPECT_NEAR(f0, f.flat<double>(0), 1e-5);
  spec.classification = false;
  const Dataset reg = tasks::make_teacher_student(spec, ctx);
  EXPECT_FALSE(reg.y.defined());
  EXPECT_EQ(reg.targets.shape(), (Shape{1024, 1}));
  EXPECT_NEAR(at(reg.targets, 5), f.flat<double>(5), 1e-6);  // noise 0
}

TEST(DeepLinear, InputsAreWhitenedAndTheSpectrumIsTheChosenOne) {
  Context ctx;
  tasks::DeepLinearSpec spec;
  spec.dtype = DType::f64;
  const Dataset d = tasks::make_deep_linear(spec, ctx);
  const std::int64_t n = 256, din = 8, dout = 8;
  for (int i = 0; i < din; ++i) {
    for (int j = 0; j < din; ++j) {
      double c = 0;
      for (std::int64_t p = 0; p < n; ++p) c += d.x.flat<double>(p * din + i) * d.x.flat<double>(p * din + j);
      EXPECT_NEAR(c / n, i == j ? 1.0 : 0.0, 1e-12);
    }
  }
  // Sigma_yx v_a = s_a u_a for each mode a.
  const Tensor &u = d.truth.at("modes.u"), &v = d.truth.at("modes.v");
  for (int a = 0; a < 4; ++a) {
    for (int i = 0; i < dout; ++i) {
      double s = 0;
      for (int j = 0; j < din; ++j) {
        double sigma = 0;
        for (std::int64_t p = 0; p < n; ++p) sigma += d.targets.flat<double>(p * dout + i) * d.x.flat<double>(p * din + j);
        s += sigma / n * v.flat<double>(j * 4 + a);
      }
      EXPECT_NEAR(s, spec.singular_values[static_cast<std::size_t>(a)] * u.flat<double>(i * 4 + a), 1e-10);
    }
  }
  spec.singular_values = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_THROW(tasks::make_deep_linear(spec, ctx), Error);
}

TEST(ModularAddition, AllPairsLabelsAndSplit) {
  Context ctx;
  tasks::ModularSpec spec;
  spec.p = 13;
  spec.train_fraction = 0.6;
  const Dataset d = tasks::make_modular_addition(spec, ctx);
  EXPECT_EQ(d.x.shape(), (Shape{169, 26}));
  EXPECT_EQ(d.group("train").indices.size() + d.group("test").indices.size(), 169u);
  EXPECT_EQ(d.group("train").indices.size(), 101u);
  for (std::int64_t i = 0; i < 169; ++i) {
    int a = -1, b = -1;
    for (int j = 0; j < 13; ++j) {
      if (at(d.x, i * 26 + j) == 1) a = j;
      if (at(d.x, i * 26 + 13 + j) == 1) b = j;
    }
    ASSERT_EQ(d.y.flat<std::int32_t>(i), (a + b) % 13);
  }
  std::vector<std::int32_t> all = d.group("train").indices;
  all.insert(all.end(), d.group("test").indices.begin(), d.group("test").indices.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 169; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], i);
  spec.p = 97;
  spec.train_fraction = 0.001;  // some class has no training example: a clear error
  EXPECT_THROW(tasks::make_modular_addition(spec, ctx), Error);
}

TEST(SparseParity, LabelIsTheParityOfTheRelevantBits) {
  Context ctx;
  tasks::SparseParitySpec spec;
  spec.bits = 12;
  spec.relevant = 3;
  const Dataset d = tasks::make_sparse_parity(spec, ctx);
  const std::vector<std::int32_t> rel = d.truth.at("relevant_bits").to_vector<std::int32_t>();
  ASSERT_EQ(rel.size(), 3u);
  for (std::int64_t i = 0; i < d.size(); ++i) {
    double prod = 1;
    for (std::int32_t j : rel) prod *= at(d.x, i * 12 + j);
    ASSERT_EQ(d.y.flat<std::int32_t>(i), prod > 0 ? 1 : 0);
    for (int j = 0; j < 12; ++j) ASSERT_EQ(std::fabs(at(d.x, i * 12 + j)), 1.0);
  }
  EXPECT_NEAR(double(count_label(d, "train", 1)) / 1000, 0.5, 0.06);
}

TEST(Generators, AllAreDeterministic) {
  Context ctx;
  expect_identical(tasks::make_teacher_student({}, ctx), tasks::make_teacher_student({}, ctx));
  expect_identical(tasks::make_separable({}, ctx), tasks::make_separable({}, ctx));
  expect_identical(tasks::make_clusters({}, ctx), tasks::make_clusters({}, ctx));
  expect_identical(tasks::make_deep_linear({}, ctx), tasks::make_deep_linear({}, ctx));
  expect_identical(tasks::make_modular_addition({}, ctx), tasks::make_modular_addition({}, ctx));
  expect_identical(tasks::make_sparse_parity({}, ctx), tasks::make_sparse_parity({}, ctx));
  tasks::ClustersSpec other;
  other.seed = 1;
  EXPECT_FALSE(test::bitwise_equal(tasks::make_clusters({}, ctx).x, tasks::make_clusters(other, ctx).x));
}

TEST(Dataset, ValidationAndSplits) {
  Context ctx;
  Dataset d = tasks::make_clusters({}, ctx);
  const Dataset::Split train = d.split("train", ctx);
  EXPECT_EQ(train.x.shape(), (Shape{300, 10}));
  EXPECT_EQ(train.y.to_vector<std::int32_t>()[150], 1);
  EXPECT_THROW(d.group("probe"), Error);
  Dataset bad = d;
  bad.x = d.x.to(ctx);
  bad.x.flat<float>(7) = NAN;
  try {
    bad.validate("bad.npz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.npz: feature value at row 0, column 7"), std::string::npos) << e.what();
  }
  bad = d;
  bad.y = d.y.to(ctx);
  bad.y.flat<std::int32_t>(3) = 9;
  EXPECT_THROW(bad.validate("x"), Error);
  bad = d;
  bad.num_classes = 4;  // class 3 has no example
  EXPECT_THROW(bad.validate("x"), Error);
  bad = d;
  bad.groups[0].indices.push_back(100000);
  EXPECT_THROW(bad.validate("x"), Error);
}

}  // namespace
}  // namespace groove
