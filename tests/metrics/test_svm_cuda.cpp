// The CUDA SVM solver (kernels/cuda/svm.cu) against its CPU twin, and metrics::svm_max_margin on
// both backends. Problems: random separable sets (P = 1, odd, larger than the 256-thread block),
// overlapping sets, per-model and shared labels, unused examples. The backends take the same SMO
// path (kernels/svm_math.h), up to the order of the sums behind the resolution stop and the
// relative box, so iteration counts may differ slightly; alpha, b and the summary agree to the
// solver's tolerance. Skipped with a message when no GPU is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/svm_ops.h"
#include "metrics/svm.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using test::GpuTest;

// K random sets [K, P, N] with labels y [K, P] (+1 / -1; some 0 when `with_unused`): model k is
// separable with margin >= 0.05 along its own random normal, except that `overlap_model` gets
// random points (overlapping classes).
struct Batch {
  std::int64_t K, P, N;
  std::vector<double> x, y;
};

Batch random_batch(std::int64_t K, std::int64_t P, std::int64_t N, std::uint64_t seed, bool shared_labels,
                   bool with_unused, std::int64_t overlap_model = -1) {
  Batch b{K, P, N, std::vector<double>(K * P * N), std::vector<double>(K * P)};
  const Tensor z = test::random_tensor({K, P, N}, DType::f64, seed, -1.0, 1.0, false);
  const Tensor u = test::random_tensor({K, N + 1}, DType::f64, seed + 1, -1.0, 1.0, false);
  const Tensor coin = test::random_tensor({K, P}, DType::f64, seed + 2, 0.0, 1.0, false);
  for (std::int64_t k = 0; k < K; ++k) {
    double un = 0;
    for (std::int64_t n = 0; n < N; ++n) un += u.flat<double>(k * (N + 1) + n) * u.flat<double>(k * (N + 1) + n);
    un = std::sqrt(un);
    const double b0 = 0.1 * u.flat<double>(k * (N + 1) + N);
    for (std::int64_t i = 0; i < P; ++i) {
      const std::int64_t kc = shared_labels ? 0 : k;
      double yi = coin.flat<double>(kc * P + i) < 0.4 ? 1.0 : -1.0;
      if (i < 2) yi = i == 0 ? 1.0 : -1.0;
      if (with_unused && i % 7 == 3) yi = 0.0;
      b.y[k * P + i] = yi;
      double s = b0;
      for (std::int64_t n = 0; n < N; ++n)
        s += u.flat<double>(k * (N + 1) + n) / un * z.flat<double>((k * P + i) * N + n);
      const double yy = yi == 0 ? 1.0 : yi;
      const double shift = k == overlap_model ? 0.0 : yy * (0.05 + std::fabs(s)) - s;
      for (std::int64_t n = 0; n < N; ++n) {
        b.x[(k * P + i) * N + n] = z.flat<double>((k * P + i) * N + n) + shift * u.flat<double>(k * (N + 1) + n) / un;
      }
    }
  }
  return b;
}

Tensor gram_of(const Batch& b) {
  Tensor g = Tensor::host({b.K, b.P, b.P}, DType::f64);
  for (std::int64_t k = 0; k < b.K; ++k) {
    for (std::int64_t i = 0; i < b.P; ++i) {
      for (std::int64_t j = 0; j < b.P; ++j) {
        double s = 0;
        for (std::int64_t n = 0; n < b.N; ++n) s += b.x[(k * b.P + i) * b.N + n] * b.x[(k * b.P + j) * b.N + n];
        g.flat<double>((k * b.P + i) * b.P + j) = s;
      }
    }
  }
  return g;
}

struct Outputs {
  Tensor alpha, bias, info, summary;
};

Outputs run_solve(const Tensor& gram, const Tensor& y, const ops::SvmSolveOptions& o, Context& ctx) {
  const std::int64_t K = gram.dim(0), P = gram.dim(1);
  Outputs r{Tensor::empty({K, P}, DType::f64, ctx), Tensor::empty({K}, DType::f64, ctx),
            Tensor::empty({K, 2}, DType::i32, ctx), Tensor::empty({K, svm::kSummaryColumns}, DType::f64, ctx)};
  ops::svm_dual_solve(r.alpha, r.bias, r.info, r.summary, gram.to(ctx), y.to(ctx), o, ctx);
  return {r.alpha.to_host(), r.bias.to_host(), r.info.to_host(), r.summary.to_host()};
}

class SvmCuda : public GpuTest {};

TEST_F(SvmCuda, SolveMatchesCpu) {
  int seed = 10;
  for (std::int64_t P : {1, 37, 300, 611}) {
    for (std::int64_t N : {3, 40}) {
      for (int variant = 0; variant < 3; ++variant) {
        const bool shared = variant == 1, unused = variant == 2;
        const std::int64_t K = 3;
        const Batch b = random_batch(K, P, N, ++seed, shared, unused, variant == 0 ? 1 : -1);
        const Tensor gram = gram_of(b);
        const Tensor y = shared ? Tensor::from_vector<double>({P}, std::vector<double>(b.y.begin(), b.y.begin() + P))
                                : Tensor::from_vector<double>({K, P}, b.y);
        ops::SvmSolveOptions o;
        o.resolution = 1e-4;
        const Outputs c = run_solve(gram, y, o, *cpu), g = run_solve(gram, y, o, *gpu);
        SCOPED_TRACE(::testing::Message() << "P " << P << " N " << N << " variant " << variant);
        for (std::int64_t k = 0; k < K; ++k) {
          const int status = c.info.flat<std::int32_t>(2 * k + 1);
          EXPECT_EQ(g.info.flat<std::int32_t>(2 * k + 1), status) << "model " << k;
          const double it_c = c.info.flat<std::int32_t>(2 * k), it_g = g.info.flat<std::int32_t>(2 * k);
          EXPECT_LE(std::fabs(it_c - it_g), 0.05 * it_c + 3) << "iterations, model " << k;
          if (status != svm::kConverged) continue;  // overlap: both certified, iterates may part
          double amax = 0;
          for (std::int64_t i = 0; i < P; ++i) amax = std::max(amax, c.alpha.flat<double>(k * P + i));
          EXPECT_TRUE(test::all_close(g.alpha.model(k), c.alpha.model(k), 1e-5 * amax, 0)) << "alpha, model " << k;
          EXPECT_NEAR(g.bias.flat<double>(k), c.bias.flat<double>(k), 1e-5 * (1 + std::fabs(c.bias.flat<double>(k))));
          const double wn = c.summary.flat<double>(k * svm::kSummaryColumns + svm::kWNorm);
          for (int col = 0; col < svm::kSummaryColumns; ++col) {
            const double vc = c.summary.flat<double>(k * svm::kSummaryColumns + col);
            const double vg = g.summary.flat<double>(k * svm::kSummaryColumns + col);
            const double scale = col == svm::kWNorm ? wn : 1 / wn;
            if (col == svm::kWrong || col == svm::kAtBound) {
              EXPECT_EQ(vg, vc) << "column " << col << ", model " << k;
            } else {
              EXPECT_NEAR(vg, vc, 1e-5 * std::fabs(scale) + 1e-9 * std::fabs(vc))
                  << "column " << col << ", model " << k;
            }
          }
        }
        if (P == 1) {
          for (std::int64_t k = 0; k < K; ++k) EXPECT_EQ(g.info.flat<std::int32_t>(2 * k + 1), svm::kOneClass);
        }
      }
    }
  }
}

TEST_F(SvmCuda, SoftMarginAndMaxIterMatchCpu) {
  const Batch b = random_batch(2, 263, 5, 77, false, false, 0);
  const Tensor gram = gram_of(b), y = Tensor::from_vector<double>({2, 263}, b.y);
  ops::SvmSolveOptions o;
  o.c = 0.5;
  const Outputs c = run_solve(gram, y, o, *cpu), g = run_solve(gram, y, o, *gpu);
  for (std::int64_t k = 0; k < 2; ++k) {
    EXPECT_EQ(g.info.flat<std::int32_t>(2 * k + 1), svm::kConverged) << k;
    EXPECT_EQ(c.info.flat<std::int32_t>(2 * k + 1), svm::kConverged) << k;
  }
  EXPECT_TRUE(test::all_close(g.alpha, c.alpha, 1e-6, 0));
  EXPECT_TRUE(test::all_close(g.bias, c.bias, 1e-6, 1e-6));
  // A few iterations: the same working sets, so the same iterates up to rounding.
  o.c = std::numeric_limits<double>::infinity();
  o.max_iter = 25;
  const Outputs c2 = run_solve(gram, y, o, *cpu), g2 = run_solve(gram, y, o, *gpu);
  EXPECT_TRUE(test::bitwise_equal(g2.info, c2.info));
  EXPECT_TRUE(test::all_close(g2.alpha, c2.alpha, 1e-9, 1e-9));
  EXPECT_TRUE(test::all_close(g2.summary, c2.summary, 1e-9, 1e-9));
}

TEST_F(SvmCuda, MaxMarginMatchesCpu) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (int classes : {2, 3}) {
      const std::int64_t K = 4, P = 301, N = 17;
      const Batch b = random_batch(K, P, N, 200 + classes, true, false, 2);
      Tensor x = Tensor::from_vector<double>({K, P, N}, b.x);
      if (dt == DType::f32) {
        Tensor f = Tensor::host({K, P, N}, DType::f32);
        ops::convert(f, x, *cpu);
        x = f;
      }
      std::vector<std::int32_t> labels(P);
      for (std::int64_t i = 0; i < P; ++i)
        labels[i] = classes == 2 ? (b.y[i] > 0 ? 1 : 0) : (b.y[i] > 0 ? 1 : int(i % 2) * 2);
      const Tensor l = Tensor::from_vector<std::int32_t>({P}, labels);
      metrics::SvmOptions o;
      const metrics::SvmStats sc = metrics::svm_max_margin(x, l, classes, o, *cpu);
      const metrics::SvmStats sg = metrics::svm_max_margin(x.to(*gpu), l.to(*gpu), classes, o, *gpu);
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " classes " << classes);
      for (std::int64_t k = 0; k < K; ++k) {
        EXPECT_EQ(sg.separable[k], sc.separable[k]) << k;
        EXPECT_EQ(sg.converged[k], sc.converged[k]) << k;
        EXPECT_EQ(std::isnan(sg.margin[k]), std::isnan(sc.margin[k])) << k;
        const double m = std::isnan(sc.margin[k]) ? 1.0 : sc.margin[k];
        if (!std::isnan(sc.margin[k])) {
          EXPECT_NEAR(sg.margin[k], sc.margin[k], 1e-5 * m) << k;
        }
        if (sc.converged[k] && !std::isnan(sc.margin[k])) {
          EXPECT_NEAR(sg.min_distance[k], sc.min_distance[k], 1e-5 * m) << k;
          EXPECT_NEAR(sg.closest_1pct[k], sc.closest_1pct[k], 1e-5 * m) << k;
          EXPECT_NEAR(sg.closest_5pct[k], sc.closest_5pct[k], 1e-5 * m) << k;
        }
      }
      EXPECT_EQ(sc.separable[2], 0);  // the overlapping model
    }
  }
}

}  // namespace
}  // namespace groove
