// The per-step statistics ops on the CPU against direct formulas written here: margins, class
// means, distances, parameter norms, PGD steps and the row summary (every column, the ring slot).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/stats_ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

double at(const Tensor& t, std::int64_t i) {
  return t.value(i);
}

TEST(StepStats, MarginsBinaryAndMulticlass) {
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    // C = 1 with 0/1 labels and with -1/+1 labels.
    Tensor f = test::random_tensor({2, 5, 1}, dt, 1);
    Tensor l01 = test::random_indices({5}, 2, 2);
    Tensor lpm = Tensor::host({5}, DType::i32);
    for (int i = 0; i < 5; ++i) lpm.flat<std::int32_t>(i) = l01.flat<std::int32_t>(i) ? 1 : -1;
    Tensor m1 = Tensor::empty({2, 5}, DType::f64, ctx), m2 = Tensor::empty({2, 5}, DType::f64, ctx);
    ops::margins(m1, f, l01, ctx);
    ops::margins(m2, f, lpm, ctx);
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < 5; ++i) {
        const double y = l01.flat<std::int32_t>(i) ? 1.0 : -1.0;
        EXPECT_DOUBLE_EQ(m1.flat<double>(k * 5 + i), y * at(f, k * 5 + i));
        EXPECT_DOUBLE_EQ(m2.flat<double>(k * 5 + i), y * at(f, k * 5 + i));
      }
    }
    // C = 4.
    Tensor g = test::random_tensor({3, 7, 4}, dt, 3);
    Tensor lab = test::random_indices({7}, 4, 4);
    Tensor m = Tensor::empty({3, 7}, DType::f64, ctx);
    ops::margins(m, g, lab, ctx);
    for (int k = 0; k < 3; ++k) {
      for (int i = 0; i < 7; ++i) {
        const int y = lab.flat<std::int32_t>(i);
        double other = -1e300;
        for (int j = 0; j < 4; ++j) {
          if (j != y) other = std::max(other, at(g, (k * 7 + i) * 4 + j));
        }
        EXPECT_DOUBLE_EQ(m.flat<double>(k * 7 + i), at(g, (k * 7 + i) * 4 + y) - other);
      }
    }
  }
}

TEST(StepStats, ClassMeansAndDistances) {
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    const std::int64_t k = 2, n = 13, d = 9, c = 3;
    Tensor h = test::random_tensor({k, n, d}, dt, 5);
    Tensor cls = Tensor::host({n}, DType::i32);
    for (int i = 0; i < n; ++i) cls.flat<std::int32_t>(i) = i % 2;  // class 2 has no rows: zero mean
    Tensor means = Tensor::empty({k, c, d}, dt, ctx);
    ops::class_means(means, h, cls, ctx);
    Tensor dist = Tensor::empty({k, n, c}, DType::f64, ctx);
    ops::sq_distances(dist, h, means, ctx);
    const double tol = dt == DType::f32 ? 1e-6 : 1e-13;
    for (int m = 0; m < k; ++m) {
      for (int cc = 0; cc < c; ++cc) {
        for (int j = 0; j < d; ++j) {
          double s = 0, count = 0;
          for (int i = 0; i < n; ++i) {
            if (cls.flat<std::int32_t>(i) == cc) {
              s += at(h, (m * n + i) * d + j);
              count += 1;
            }
          }
          EXPECT_NEAR(at(means, (m * c + cc) * d + j), count ? s / count : 0.0, tol);
        }
      }
      for (int i = 0; i < n; ++i) {
        for (int cc = 0; cc < c; ++cc) {
          double s = 0;
          for (int j = 0; j < d; ++j) {
            const double x = at(h, (m * n + i) * d + j) - at(means, (m * c + cc) * d + j);
            s += x * x;
          }
          EXPECT_NEAR(dist.flat<double>((m * n + i) * c + cc), s, 1e-12 * (1 + s));
        }
      }
    }
  }
}

TEST(StepStats, ParamNormsAndGradNorm) {
  Context ctx;
  const std::int64_t k = 3;
  // Two weight segments [K, 6] and [K, 4] with a bias segment [K, 2] between them.
  ops::ParamSegments all;
  all.models = k;
  all.count = 3;
  const std::int64_t per[3] = {6, 2, 4};
  std::int64_t offset = 0;
  for (int s = 0; s < 3; ++s) {
    all.offset[s] = offset;
    all.per_model[s] = per[s];
    offset += k * per[s];
  }
  ops::ParamSegments w = all;
  w.count = 2;
  w.offset[1] = all.offset[2];
  w.per_model[1] = all.per_model[2];
  Tensor v = test::random_tensor({offset}, DType::f64, 7), v0 = test::random_tensor({offset}, DType::f64, 8);
  Tensor g = test::random_tensor({offset}, DType::f64, 9);
  Tensor out = Tensor::empty({k, 7}, DType::f64, ctx);
  ops::param_norms(out, v, v0, g, w, all, ctx);
  for (int m = 0; m < k; ++m) {
    for (int l = 0; l < 2; ++l) {
      double w2 = 0, d2 = 0, w02 = 0;
      for (int i = 0; i < w.per_model[l]; ++i) {
        const std::int64_t e = w.offset[l] + m * w.per_model[l] + i;
        w2 += v.flat<double>(e) * v.flat<double>(e);
        d2 += std::pow(v.flat<double>(e) - v0.flat<double>(e), 2);
        w02 += v0.flat<double>(e) * v0.flat<double>(e);
      }
      EXPECT_NEAR(out.flat<double>(m * 7 + 3 * l), w2, 1e-14);
      EXPECT_NEAR(out.flat<double>(m * 7 + 3 * l + 1), d2, 1e-14);
      EXPECT_NEAR(out.flat<double>(m * 7 + 3 * l + 2), w02, 1e-14);
    }
    double g2 = 0;
    for (int s = 0; s < 3; ++s) {
      for (int i = 0; i < per[s]; ++i) {
        const double x = g.flat<double>(all.offset[s] + m * per[s] + i);
        g2 += x * x;
      }
    }
    EXPECT_NEAR(out.flat<double>(m * 7 + 6), g2, 1e-14);
  }
  // Without gradients the gradient norm is NaN.
  ops::param_norms(out, v, v0, Tensor(), w, all, ctx);
  EXPECT_TRUE(std::isnan(out.flat<double>(6)));
}

TEST(StepStats, PgdStepMovesBySignAndClips) {
  Context ctx;
  Tensor delta = Tensor::host({4}, DType::f32), grad = Tensor::host({4}, DType::f32);
  const float d0[4] = {0.0f, 0.09f, -0.09f, 0.05f}, g0[4] = {1.5f, 2.0f, -3.0f, 0.0f};
  for (int i = 0; i < 4; ++i) {
    delta.flat<float>(i) = d0[i];
    grad.flat<float>(i) = g0[i];
  }
  ops::pgd_step(delta, grad, 0.03, 0.1, ctx);
  EXPECT_FLOAT_EQ(delta.flat<float>(0), 0.03f);
  EXPECT_FLOAT_EQ(delta.flat<float>(1), 0.1f);   // clipped at +epsilon
  EXPECT_FLOAT_EQ(delta.flat<float>(2), -0.1f);  // clipped at -epsilon
  EXPECT_FLOAT_EQ(delta.flat<float>(3), 0.05f);  // zero gradient: no move
}

// numpy's default quantile, written independently of stats::quantile_sorted.
double numpy_quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double frac = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - frac) + v[i + 1] * frac : v[i];
}

TEST(StepStats, SummaryRowMatchesDirectFormulas) {
  Context ctx;
  const std::int64_t k = 2, p = 37, q = 11, c = 3, n = 5, layers = 2, groups = 2, ring = 4, every = 3;
  Tensor tm = test::random_tensor({k, p}, DType::f64, 11, 0.1, 2.0, true);
  Tensor tcls = test::random_indices({p}, static_cast<std::int32_t>(c), 12);
  Tensor loss = test::random_tensor({k}, DType::f32, 13, 0.1, 1.0, false);
  Tensor log10 = test::random_tensor({k}, DType::f32, 14);
  Tensor tdist = test::random_tensor({k, p, c}, DType::f64, 15, 0.1, 3.0, false);
  Tensor means = test::random_tensor({k, c, n}, DType::f32, 16);
  Tensor hm = test::random_tensor({k, q}, DType::f64, 17, 0.1, 2.0, true);
  Tensor hcls = test::random_indices({q}, static_cast<std::int32_t>(c), 18);
  Tensor hgrp = test::random_indices({q}, static_cast<std::int32_t>(groups), 19);
  Tensor hpe = Tensor::host({2, k, q}, DType::f64);
  Tensor hl = test::random_tensor({k, q}, DType::f64, 20, 1e-3, 2.0, false);
  for (int i = 0; i < k * q; ++i) {
    hpe.flat<double>(i) = hl.flat<double>(i);
    hpe.flat<double>(k * q + i) = std::log(hl.flat<double>(i));
  }
  Tensor hdist = test::random_tensor({k, q, c}, DType::f64, 21, 0.1, 3.0, false);
  Tensor norms = test::random_tensor({k, 3 * layers + 1}, DType::f64, 22, 0.5, 2.0, false);
  Tensor step = Tensor::host({1}, DType::i32);
  step.flat<std::int32_t>(0) = 15;  // slot (15 / 3) % 4 = 1
  const std::int64_t m_cols = stats::row_columns(layers, groups);
  Tensor rows = Tensor::host({ring, k, m_cols}, DType::f64), ring_m = Tensor::host({ring, k, p + q}, DType::f32);
  ops::fill(rows, -7.0, ctx);
  ops::fill(ring_m, -7.0, ctx);
  Tensor scratch = Tensor::empty({k, 64}, DType::f64, ctx);
  ops::StepSummaryInputs in{tm,
                            tcls,
                            loss,
                            log10,
                            tdist,
                            means,
                            hm,
                            hcls,
                            hgrp,
                            hpe,
                            hdist,
                            norms,
                            step,
                            static_cast<int>(layers),
                            static_cast<int>(groups),
                            every};
  ops::step_summary(rows, ring_m, scratch, in, ctx);

  for (std::int64_t s = 0; s < ring; ++s) {
    for (std::int64_t m = 0; m < k; ++m) {
      if (s == 1) continue;
      EXPECT_EQ(rows.flat<double>((s * k + m) * m_cols), -7.0) << "slot " << s << " was written";
      EXPECT_EQ(ring_m.flat<float>((s * k + m) * (p + q)), -7.0f);
    }
  }
  for (std::int64_t m = 0; m < k; ++m) {
    const double* r = rows.data<double>() + (1 * k + m) * m_cols;
    std::vector<double> mv(static_cast<std::size_t>(p));
    for (int i = 0; i < p; ++i) mv[static_cast<std::size_t>(i)] = tm.flat<double>(m * p + i);
    EXPECT_EQ(r[stats::kStep], 15);
    EXPECT_EQ(r[stats::kTrainLoss], double(loss.flat<float>(m)));
    EXPECT_EQ(r[stats::kTrainLog10Loss], double(log10.flat<float>(m)));
    EXPECT_DOUBLE_EQ(r[stats::kTrainAcc],
                     double(std::count_if(mv.begin(), mv.end(), [](double x) { return x > 0; })) / p);
    EXPECT_DOUBLE_EQ(r[stats::kMarginMin], *std::min_element(mv.begin(), mv.end()));
    EXPECT_NEAR(r[stats::kMarginMean], std::accumulate(mv.begin(), mv.end(), 0.0) / p, 1e-15);
    EXPECT_NEAR(r[stats::kMarginQ01], numpy_quantile(mv, 0.01), 1e-15);
    EXPECT_NEAR(r[stats::kMarginQ05], numpy_quantile(mv, 0.05), 1e-15);
    // Norm columns.
    const double* nm = norms.data<double>() + m * (3 * layers + 1);
    EXPECT_NEAR(r[stats::layer_column(0)], std::sqrt(nm[0]), 1e-15);
    EXPECT_NEAR(r[stats::layer_column(1) + 1], std::sqrt(nm[4] / nm[5]), 1e-15);
    const double mn = r[stats::kMarginMin];
    EXPECT_NEAR(r[stats::kMarginNormProd], mn / (std::sqrt(nm[0]) * std::sqrt(nm[3])), 1e-14);
    EXPECT_NEAR(r[stats::kMarginNormGlobal], mn / (nm[0] + nm[3]), 1e-14);  // (sum)^(L/2) with L = 2
    EXPECT_NEAR(r[stats::kMarginReadout], mn / std::sqrt(nm[3]), 1e-14);
    EXPECT_NEAR(r[stats::kGradNorm], std::sqrt(nm[6]), 1e-15);
    EXPECT_NEAR(r[stats::kWeightNorm], std::sqrt(nm[0] + nm[3]), 1e-15);
    // Hidden layer.
    double within = 0, ncm = 0;
    for (int i = 0; i < p; ++i) {
      const double* d = tdist.data<double>() + (m * p + i) * c;
      within += d[tcls.flat<std::int32_t>(i)];
      ncm += (std::min_element(d, d + c) - d) == tcls.flat<std::int32_t>(i);
    }
    EXPECT_NEAR(r[stats::kWithinVar], within / p, 1e-14);
    EXPECT_DOUBLE_EQ(r[stats::kTrainNcmAcc], ncm / p);
    double cd = 0;
    for (int a = 0; a < c; ++a) {
      for (int b = a + 1; b < c; ++b) {
        double s = 0;
        for (int j = 0; j < n; ++j) {
          s += std::pow(double(means.flat<float>((m * c + a) * n + j)) - means.flat<float>((m * c + b) * n + j), 2);
        }
        cd += std::sqrt(s);
      }
    }
    EXPECT_NEAR(r[stats::kCentroidDist], cd / 3, 1e-14);
    // Held-out groups and pooled.
    for (int g = -1; g < groups; ++g) {
      double sum = 0, ok = 0, nc = 0, count = 0;
      for (int i = 0; i < q; ++i) {
        if (g >= 0 && hgrp.flat<std::int32_t>(i) != g) continue;
        sum += hl.flat<double>(m * q + i);
        ok += hm.flat<double>(m * q + i) > 0;
        const double* d = hdist.data<double>() + (m * q + i) * c;
        nc += (std::min_element(d, d + c) - d) == hcls.flat<std::int32_t>(i);
        count += 1;
      }
      const int col = g < 0 ? static_cast<int>(stats::kHeldoutLoss) : stats::group_column(layers, g);
      if (count == 0) continue;
      EXPECT_NEAR(r[col], sum / count, 1e-14);
      EXPECT_NEAR(r[col + 1], std::log10(sum / count), 1e-12);
      EXPECT_DOUBLE_EQ(r[col + 2], ok / count);
      EXPECT_DOUBLE_EQ(r[col + 3], nc / count);
    }
    for (int i = 0; i < p; ++i) EXPECT_EQ(ring_m.flat<float>((k + m) * (p + q) + i), float(tm.flat<double>(m * p + i)));
    for (int i = 0; i < q; ++i) {
      EXPECT_EQ(ring_m.flat<float>((k + m) * (p + q) + p + i), float(hm.flat<double>(m * q + i)));
    }
  }
  // Column names line up with the layout.
  const auto names = stats::column_names(static_cast<int>(layers), {"test", "probe"});
  ASSERT_EQ(static_cast<std::int64_t>(names.size()), m_cols);
  EXPECT_EQ(names[stats::layer_column(1) + 1], "w1_move");
  EXPECT_EQ(names[stats::group_column(static_cast<int>(layers), 1) + 2], "probe_acc");
}

TEST(StepStats, NanMarginsLeaveOrderStatisticsNan) {
  Context ctx;
  Tensor tm = test::random_tensor({1, 8}, DType::f64, 31);
  tm.flat<double>(3) = NAN;
  Tensor cls = test::random_indices({8}, 2, 32);
  Tensor loss = Tensor::host({1}, DType::f64);
  loss.flat<double>(0) = 1;
  Tensor norms = test::random_tensor({1, 4}, DType::f64, 33, 0.5, 1, false);
  Tensor step = Tensor::host({1}, DType::i32);
  step.flat<std::int32_t>(0) = 0;
  Tensor rows = Tensor::host({1, 1, stats::row_columns(1, 0)}, DType::f64);
  Tensor none, scratch = Tensor::empty({1, 8}, DType::f64, ctx);
  ops::StepSummaryInputs in;
  in.train_margins = tm;
  in.train_classes = cls;
  in.train_loss = loss;
  in.train_log10_loss = loss;
  in.norms = norms;
  in.step = step;
  in.layers = 1;
  ops::step_summary(rows, none, scratch, in, ctx);
  EXPECT_TRUE(std::isnan(rows.flat<double>(stats::kMarginMin)));
  EXPECT_TRUE(std::isnan(rows.flat<double>(stats::kMarginQ05)));
  EXPECT_TRUE(std::isnan(rows.flat<double>(stats::kMarginMean)));
}

TEST(StepStats, BadShapesNameTheTensor) {
  Context ctx;
  Tensor logits = test::random_tensor({2, 5, 3}, DType::f32, 1);
  Tensor labels = test::random_indices({4}, 3, 2);
  Tensor out = Tensor::empty({2, 5}, DType::f64, ctx);
  try {
    ops::margins(out, logits, labels, ctx);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'labels'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace groove
