// `groove bench`'s workload (bench/workload.h) and the dump the PyTorch / JAX peers redo: the dump
// must describe the run exactly (a peer reading it must reproduce groove's curves), so the first
// two steps are recomputed here by hand, in double, from init.npz, data.npz and bench.json alone.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "bench/workload.h"
#include "runtime/npy.h"
#include "tests/common/test_util.h"

namespace groove::bench {
namespace {

struct Params {
  std::vector<double> w0, b0, w1, b1;  // [N, D], [N], [C, N], [C] of one model
};

Params model_params(const std::string& init, std::int64_t k, std::int64_t n, std::int64_t d, std::int64_t c) {
  auto slice = [&](const char* name, std::int64_t size) {
    const Tensor t = read_npz_array(init, name);
    EXPECT_EQ(t.dtype(), DType::f32) << name;
    std::vector<double> v(static_cast<std::size_t>(size));
    for (std::int64_t i = 0; i < size; ++i) v[static_cast<std::size_t>(i)] = t.flat<float>(k * size + i);
    return v;
  };
  return {slice("layer0.weight", n * d), slice("layer0.bias", n), slice("layer1.weight", c * n),
          slice("layer1.bias", c)};
}

// Mean cross-entropy of the model on (x, labels), and (when grad) one SGD step of size lr in place.
double loss_and_step(Params& m, const std::vector<double>& x, const std::vector<std::int32_t>& labels,
                     std::int64_t d, std::int64_t n, std::int64_t c, double scale, double lr, bool step) {
  const auto p = static_cast<std::int64_t>(labels.size());
  const double in_scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> z(static_cast<std::size_t>(p * n)), f(static_cast<std::size_t>(p * c));
  double loss = 0;
  for (std::int64_t i = 0; i < p; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t a = 0; a < d; ++a) s += x[i * d + a] * m.w0[j * d + a];
      z[i * n + j] = s * in_scale + m.b0[j];
    }
    double mx = -INFINITY;
    for (std::int64_t o = 0; o < c; ++o) {
      double s = 0;
      for (std::int64_t j = 0; j < n; ++j) s += std::max(0.0, z[i * n + j]) * m.w1[o * n + j];
      f[i * c + o] = s * scale + m.b1[o];
      mx = std::max(mx, f[i * c + o]);
    }
    double sum = 0;
    for (std::int64_t o = 0; o < c; ++o) sum += std::exp(f[i * c + o] - mx);
    loss += (std::log(sum) + mx - f[i * c + labels[i]]) / static_cast<double>(p);
    for (std::int64_t o = 0; o < c; ++o)  // f becomes dL/df
      f[i * c + o] = (std::exp(f[i * c + o] - mx) / sum - (o == labels[i] ? 1.0 : 0.0)) / static_cast<double>(p);
  }
  if (!step) return loss;
  Params g{std::vector<double>(m.w0.size()), std::vector<double>(m.b0.size()), std::vector<double>(m.w1.size()),
           std::vector<double>(m.b1.size())};
  for (std::int64_t i = 0; i < p; ++i) {
    for (std::int64_t o = 0; o < c; ++o) {
      g.b1[o] += f[i * c + o];
      for (std::int64_t j = 0; j < n; ++j) g.w1[o * n + j] += f[i * c + o] * scale * std::max(0.0, z[i * n + j]);
    }
    for (std::int64_t j = 0; j < n; ++j) {
      if (z[i * n + j] <= 0) continue;
      double dh = 0;
      for (std::int64_t o = 0; o < c; ++o) dh += f[i * c + o] * scale * m.w1[o * n + j];
      g.b0[j] += dh;
      for (std::int64_t a = 0; a < d; ++a) g.w0[j * d + a] += dh * in_scale * x[i * d + a];
    }
  }
  for (std::size_t i = 0; i < m.w0.size(); ++i) m.w0[i] -= lr * g.w0[i];
  for (std::size_t i = 0; i < m.b0.size(); ++i) m.b0[i] -= lr * g.b0[i];
  for (std::size_t i = 0; i < m.w1.size(); ++i) m.w1[i] -= lr * g.w1[i];
  for (std::size_t i = 0; i < m.b1.size(); ++i) m.b1[i] -= lr * g.b1[i];
  return loss;
}

TEST(BenchWorkload, DumpDescribesTheRunExactly) {
  test::TempDir dir;
  Context ctx(Device::cpu());
  WorkloadSpec spec;
  spec.d = 8, spec.n = 16, spec.p = 12, spec.c = 3, spec.k = 2, spec.q = 6;
  Workload w(ctx, spec);
  w.dump(dir.path(), 20, "{}");
  const nlohmann::json j = nlohmann::json::parse(test::read_file(dir.file("bench.json")));
  EXPECT_EQ(j["config"]["N"], 16);
  EXPECT_EQ(j["config"]["K"], 2);
  EXPECT_EQ(j["check_steps"], 20);
  const double lr = j["optimizer"]["lr"].get<double>(), scale = j["model"]["readout_scale"].get<double>();
  EXPECT_DOUBLE_EQ(lr, 0.16);
  EXPECT_DOUBLE_EQ(scale, static_cast<double>(1.0f / 16.0f));
  const Tensor xt = read_npz_array(dir.file("data.npz"), "x"), lt = read_npz_array(dir.file("data.npz"), "labels");
  ASSERT_EQ(xt.shape(), (Shape{12, 8}));
  std::vector<double> x(96);
  for (int i = 0; i < 96; ++i) x[static_cast<std::size_t>(i)] = xt.flat<float>(i);
  std::vector<std::int32_t> labels(12);
  std::set<std::int32_t> classes;
  for (int i = 0; i < 12; ++i) classes.insert(labels[static_cast<std::size_t>(i)] = lt.flat<std::int32_t>(i));
  EXPECT_GE(classes.size(), 2u);  // the teacher labels use more than one class
  for (const char* name : {"heldout_x", "heldout_labels", "heldout_groups"})
    EXPECT_EQ(read_npz_array(dir.file("data.npz"), name).dim(0), 6) << name;
  const Tensor loss = read_npz_array(dir.file("curves.npz"), "train_loss");
  ASSERT_EQ(loss.shape(), (Shape{20, 2}));
  std::set<std::string> columns;
  for (const auto& c : j["columns"]) columns.insert(c.get<std::string>());
  for (const char* c : {"train_loss", "margin_q05", "train_ncm_acc", "grad_norm", "w1_move", "probe_acc", "test_loss"})
    EXPECT_TRUE(columns.count(c)) << c;
  for (const auto& c : columns) {
    const Tensor t = read_npz_array(dir.file("curves.npz"), c);
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(t.flat<double>(i))) << c << " " << i;
  }
  for (std::int64_t k = 0; k < 2; ++k) {
    Params m = model_params(dir.file("init.npz"), k, 16, 8, 3);
    for (std::int64_t s = 0; s < 3; ++s) {
      const double expected = loss_and_step(m, x, labels, 8, 16, 3, scale, lr, true);
      EXPECT_NEAR(loss.flat<double>(s * 2 + k), expected, 1e-5 * expected) << "model " << k << " step " << s;
    }
  }
  // The models differ (seed + k) and learn.
  EXPECT_NE(loss.flat<double>(0), loss.flat<double>(1));
  EXPECT_LT(loss.flat<double>(19 * 2), loss.flat<double>(0));
}

TEST(BenchWorkload, MinibatchDumpHasEveryStepsExamples) {
  test::TempDir dir;
  Context ctx(Device::cpu());
  WorkloadSpec spec;
  spec.d = 4, spec.n = 8, spec.p = 12, spec.c = 2, spec.k = 3, spec.batch = 4;
  Workload w(ctx, spec);
  w.dump(dir.path(), 6, "{}");
  const Tensor idx = read_npz_array(dir.file("data.npz"), "batch_index");
  ASSERT_EQ(idx.shape(), (Shape{6, 3, 4}));
  // An epoch (3 steps of 4) visits every example once, per model; models differ.
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    for (std::int64_t k = 0; k < 3; ++k) {
      std::set<std::int32_t> seen;
      for (std::int64_t s = 3 * epoch; s < 3 * epoch + 3; ++s)
        for (std::int64_t b = 0; b < 4; ++b) seen.insert(idx.flat<std::int32_t>((s * 3 + k) * 4 + b));
      EXPECT_EQ(seen.size(), 12u) << "epoch " << epoch << " model " << k;
      EXPECT_EQ(*seen.begin(), 0);
      EXPECT_EQ(*seen.rbegin(), 11);
    }
  }
  bool differ = false;
  for (std::int64_t b = 0; b < 4; ++b) differ = differ || idx.flat<std::int32_t>(b) != idx.flat<std::int32_t>(4 + b);
  EXPECT_TRUE(differ);
}

TEST(BenchWorkload, BadSpecsNameTheField) {
  WorkloadSpec s;
  s.c = 1;
  EXPECT_TRUE(test::throws_mentioning([&] { s.validate(); }, {"C (classes)"}));
  s = WorkloadSpec();
  s.batch = 600;
  EXPECT_TRUE(test::throws_mentioning([&] { s.validate(); }, {"B = 600", "[0, P]"}));
  s = WorkloadSpec();
  EXPECT_EQ(s.label(), "D128 N1024 P512 C2 K1 full");
  EXPECT_DOUBLE_EQ(s.flops_per_model_step(), 4.0 * 512 * 128 * 1024 + 6.0 * 512 * 1024 * 2);
}

}  // namespace
}  // namespace groove::bench
