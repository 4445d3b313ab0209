// The CUDA linear-algebra ops (kernels/linalg_ops.h) and probes (metrics/probes.h) against their
// CPU twins on random (never zero) inputs, at sizes 1, odd, larger than a block (256 threads) and
// than a Cholesky panel (16). Skipped with a message when no GPU is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/linalg_ops.h"
#include "kernels/ops.h"
#include "metrics/probes.h"
#include "tests/common/test_util.h"
#include "tests/metrics/probe_data.h"

namespace groove {
namespace {

using metrics::ProbeForm;
using metrics::ProbeOptions;
using metrics::ProbeSet;
using test::GpuTest;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class LinalgCuda : public GpuTest {
 protected:
  Tensor on_gpu(const Tensor& t) { return t.to(*gpu); }
};

// K SPD matrices B^T B / n + 0.5 I (host).
Tensor spd(Context& ctx, std::int64_t K, std::int64_t n, std::uint64_t seed) {
  const Tensor b = test::random_tensor({K, n, n}, DType::f64, seed);
  Tensor a = Tensor::empty({K, n, n}, DType::f64, ctx);
  ops::GemmOptions o;
  o.trans_a = true;
  o.alpha = 1.0 / static_cast<double>(n);
  ops::gemm(a, b, b, o, ctx);
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t i = 0; i < n; ++i) a.flat<double>((k * n + i) * n + i) += 0.5;
  }
  return a;
}

void expect_close(const std::vector<double>& gpu, const std::vector<double>& cpu, double tol, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what;
  for (std::size_t i = 0; i < gpu.size(); ++i) {
    if (std::isnan(cpu[i])) {
      EXPECT_TRUE(std::isnan(gpu[i])) << what << " [" << i << "]";
    } else {
      EXPECT_LE(std::fabs(gpu[i] - cpu[i]), tol * std::max(1.0, std::fabs(cpu[i])))
          << what << " [" << i << "]: gpu " << gpu[i] << ", cpu " << cpu[i];
    }
  }
}

TEST_F(LinalgCuda, CholeskyFactorSubstituteSolve) {
  for (std::int64_t n : {1, 7, 33, 300}) {
    for (std::int64_t K : {1, 3}) {
      for (std::int64_t m : {1, 5}) {
        Tensor a = spd(*cpu, K, n, 10 + n);
        if (K == 3 && n > 2) a.flat<double>((1 * n + 2) * n + 2) = -1.0;  // model 1 fails at column 2
        const Tensor b = test::random_tensor({K, n, m}, DType::f64, 20 + n);
        const Tensor shared_b = test::random_tensor({n, m}, DType::f64, 30 + n);
        const std::string what = "n " + std::to_string(n) + " K " + std::to_string(K) + " m " + std::to_string(m);
        // Factor.
        Tensor u = Tensor::host({K, n, n}, DType::f64), info = Tensor::host({K}, DType::i32);
        Tensor gu = Tensor::empty({K, n, n}, DType::f64, *gpu), ginfo = Tensor::empty({K}, DType::i32, *gpu);
        ops::cholesky_factor(u, info, a, *cpu);
        ops::cholesky_factor(gu, ginfo, on_gpu(a), *gpu);
        EXPECT_TRUE(test::bitwise_equal(ginfo, info)) << what;
        for (std::int64_t k = 0; k < K; ++k) {
          if (info.flat<std::int32_t>(k) != 0) {  // a failed factor is all NaN on both
            EXPECT_TRUE(test::bitwise_equal(gu.to_host().model(k), u.model(k))) << what << " failed factor " << k;
            for (std::int64_t e = 0; e < n * n; ++e) ASSERT_TRUE(std::isnan(u.model(k).flat<double>(e))) << what;
            continue;
          }
          EXPECT_TRUE(test::all_close(gu.to_host().model(k), u.model(k), 1e-13, 1e-11)) << what << " factor " << k;
        }
        // In place on the device gives the same factor.
        Tensor ga = on_gpu(a);
        ops::cholesky_factor(ga, ginfo, ga, *gpu);
        EXPECT_TRUE(test::bitwise_equal(ga, gu)) << what << " in place";
        // Substitute (batched and shared b) and solve.
        for (const Tensor* rhs : {&b, &shared_b}) {
          Tensor x = Tensor::host({K, n, m}, DType::f64), gx = Tensor::empty({K, n, m}, DType::f64, *gpu);
          ops::cholesky_substitute(x, u, info, *rhs, *cpu);
          ops::cholesky_substitute(gx, gu, ginfo, on_gpu(*rhs), *gpu);
          EXPECT_TRUE(test::all_close(gx, x, 1e-12, 1e-10)) << what << " substitute";
          Tensor sx = Tensor::empty({K, n, m}, DType::f64, *gpu), sinfo = Tensor::empty({K}, DType::i32, *gpu);
          ops::cholesky_solve(sx, sinfo, on_gpu(a), on_gpu(*rhs), *gpu);
          EXPECT_TRUE(test::all_close(sx, x, 1e-12, 1e-10)) << what << " solve";
          EXPECT_TRUE(test::bitwise_equal(sinfo, info)) << what;
        }
        // In-place substitution on the device.
        Tensor gxin = on_gpu(b), x = Tensor::host({K, n, m}, DType::f64);
        ops::cholesky_substitute(gxin, gu, ginfo, gxin, *gpu);
        ops::cholesky_substitute(x, u, info, b, *cpu);
        EXPECT_TRUE(test::all_close(gxin, x, 1e-12, 1e-10)) << what << " in-place substitute";
      }
    }
  }
}

TEST_F(LinalgCuda, RegularizeDiagonal) {
  for (std::int64_t n : {1, 7, 300}) {
    Tensor a = spd(*cpu, 3, n, 40 + n);
    for (std::int64_t i = 0; i < n * n; ++i) a.flat<double>(2 * n * n + i) = 0.0;  // model 2: trace 0
    Tensor ga = on_gpu(a), alpha = Tensor::host({3}, DType::f64), galpha = Tensor::empty({3}, DType::f64, *gpu);
    ops::regularize_diagonal(a, alpha, 0.3, 7.0, 2.5, *cpu);
    ops::regularize_diagonal(ga, galpha, 0.3, 7.0, 2.5, *gpu);
    EXPECT_TRUE(test::all_close(galpha, alpha, 0, 1e-15)) << n;
    EXPECT_TRUE(test::all_close(ga, a, 0, 1e-15)) << n;
  }
}

TEST_F(LinalgCuda, GatherFeatures) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (std::int64_t cols : {1, 7, 300}) {
      const Tensor x1 = test::random_tensor({3, 5, cols}, dt, 1), x2 = test::random_tensor({3, 4, cols}, dt, 2);
      const Tensor index = Tensor::from_vector<std::int32_t>({6}, {8, 0, 4, 5, 3, 3});
      Tensor y = Tensor::host({3, 6, cols}, DType::f64), gy = Tensor::empty({3, 6, cols}, DType::f64, *gpu);
      ops::gather_features(y, x1, x2, index, *cpu);
      ops::gather_features(gy, on_gpu(x1), on_gpu(x2), on_gpu(index), *gpu);
      EXPECT_TRUE(test::bitwise_equal(gy, y)) << cols;
      Tensor y1 = Tensor::host({3, 2, cols}, DType::f64), gy1 = Tensor::empty({3, 2, cols}, DType::f64, *gpu);
      const Tensor first = Tensor::from_vector<std::int32_t>({2}, {4, 1});
      ops::gather_features(y1, x1, Tensor(), first, *cpu);
      ops::gather_features(gy1, on_gpu(x1), Tensor(), on_gpu(first), *gpu);
      EXPECT_TRUE(test::bitwise_equal(gy1, y1)) << cols;
    }
  }
}

TEST_F(LinalgCuda, ClassificationScores) {
  for (std::int64_t rows : {1, 7, 300, 1000}) {
    for (std::int64_t outputs : {1, 4}) {
      for (std::int64_t groups : {0, 3}) {
        Tensor logits = test::random_tensor({3, rows, outputs}, DType::f64, rows + outputs, 0.1, 3.0);
        logits.flat<double>(rows * outputs) = kNaN;  // model 1, row 0
        const Tensor labels =
            test::random_indices({rows}, static_cast<std::int32_t>(std::max<std::int64_t>(outputs, 2)), 5);
        const Tensor g = test::random_indices({rows}, 3, 6);
        Tensor acc = Tensor::host({3, 1 + groups}, DType::f64), loss = Tensor::host({3}, DType::f64);
        Tensor gacc = Tensor::empty({3, 1 + groups}, DType::f64, *gpu), gloss = Tensor::empty({3}, DType::f64, *gpu);
        ops::classification_scores(acc, loss, logits, labels, groups ? g : Tensor(), *cpu);
        ops::classification_scores(gacc, gloss, on_gpu(logits), on_gpu(labels), groups ? on_gpu(g) : Tensor(), *gpu);
        EXPECT_TRUE(test::all_close(gacc, acc, 0, 0)) << rows << " " << outputs;
        EXPECT_TRUE(test::all_close(gloss, loss, 1e-14, 1e-12)) << rows << " " << outputs;
        Tensor none;
        ops::classification_scores(gacc, none, on_gpu(logits), on_gpu(labels), groups ? on_gpu(g) : Tensor(), *gpu);
        EXPECT_TRUE(test::all_close(gacc, acc, 0, 0)) << rows << " " << outputs << " without loss";
      }
    }
  }
}

TEST_F(LinalgCuda, LogisticSetupResidualUpdate) {
  for (std::int64_t K : {1, 5}) {
    for (std::int64_t outputs : {1, 3}) {
      for (std::int64_t n : {1, 7, 300}) {
        const std::int64_t rows = n + 11;
        const std::string what =
            "K " + std::to_string(K) + " C' " + std::to_string(outputs) + " N " + std::to_string(n);
        // Setup.
        Tensor norm = test::random_tensor({K}, DType::f64, 1, 0.5, 2.0, false);
        norm.flat<double>(0) = 0.0;
        Tensor state = Tensor::host({linalg_math::kLogisticFields, K}, DType::f64), inv = Tensor::host({K}, DType::f64);
        Tensor gstate = Tensor::empty(state.shape(), DType::f64, *gpu), ginv = Tensor::empty({K}, DType::f64, *gpu);
        ops::logistic_setup(state, inv, norm, 123.0, *cpu);
        ops::logistic_setup(gstate, ginv, on_gpu(norm), 123.0, *gpu);
        EXPECT_TRUE(test::all_close(gstate, state, 0, 1e-15)) << what;
        EXPECT_TRUE(test::all_close(ginv, inv, 0, 1e-15)) << what;
        // Residual.
        const Tensor logits = test::random_tensor({K, rows, outputs}, DType::f64, 2, 0.1, 5.0);
        const Tensor labels =
            test::random_indices({rows}, static_cast<std::int32_t>(std::max<std::int64_t>(outputs, 2)), 3);
        Tensor r = Tensor::host(logits.shape(), DType::f64), gr = Tensor::empty(logits.shape(), DType::f64, *gpu);
        ops::logistic_residual(r, logits, labels, 0.25, *cpu);
        ops::logistic_residual(gr, on_gpu(logits), on_gpu(labels), 0.25, *gpu);
        EXPECT_TRUE(test::all_close(gr, r, 1e-15, 1e-13)) << what;
        // Update: random iterate, extrapolation and gradient; model 0 has a tiny gradient (converges),
        // the last is already converged, the others step.
        Tensor w = test::random_tensor({K, n, outputs}, DType::f64, 4),
               yw = test::random_tensor({K, n, outputs}, DType::f64, 5);
        Tensor gw = test::random_tensor({K, n, outputs}, DType::f64, 6);
        Tensor b = test::random_tensor({K, outputs}, DType::f64, 7),
               yb = test::random_tensor({K, outputs}, DType::f64, 8);
        Tensor gb = test::random_tensor({K, outputs}, DType::f64, 9);
        const Tensor zg = test::random_tensor({K, rows, outputs}, DType::f64, 10);
        for (std::int64_t i = 0; i < n * outputs; ++i) gw.flat<double>(i) *= 1e-9;
        for (std::int64_t i = 0; i < outputs; ++i) gb.flat<double>(i) *= 1e-9;
        Tensor st = test::random_tensor(state.shape(), DType::f64, 11, 0.5, 3.0, false);
        for (std::int64_t k = 0; k < K; ++k) st.flat<double>(linalg_math::kLogisticStatus * K + k) = 0.0;
        if (K > 1) st.flat<double>(linalg_math::kLogisticStatus * K + K - 1) = 1.0;
        for (bool step : {true, false}) {
          Tensor cw = w.to(*cpu), cyw = yw.to(*cpu), cb = b.to(*cpu), cyb = yb.to(*cpu), cst = st.to(*cpu);
          Tensor dw = on_gpu(w), dyw = on_gpu(yw), db = on_gpu(b), dyb = on_gpu(yb), dst = on_gpu(st);
          ops::logistic_update(cst, cw, cb, cyw, cyb, gw, gb, zg, 17, step, 1e-6, 0.3, 0.01, *cpu);
          ops::logistic_update(dst, dw, db, dyw, dyb, on_gpu(gw), on_gpu(gb), on_gpu(zg), 17, step, 1e-6, 0.3, 0.01,
                               *gpu);
          EXPECT_TRUE(test::all_close(dst, cst, 1e-14, 1e-12)) << what << " state step " << step;
          EXPECT_TRUE(test::all_close(dw, cw, 1e-14, 1e-12)) << what << " w";
          EXPECT_TRUE(test::all_close(dyw, cyw, 1e-14, 1e-12)) << what << " yw";
          EXPECT_TRUE(test::all_close(db, cb, 1e-14, 1e-12)) << what << " b";
          EXPECT_TRUE(test::all_close(dyb, cyb, 1e-14, 1e-12)) << what << " yb";
          EXPECT_EQ(cst.flat<double>(linalg_math::kLogisticStatus * K), 1.0) << what;  // model 0 converged
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

// The set on a device: features moved; labels moved too when `labels_on_device`.
ProbeSet to_device(const ProbeSet& s, Context& ctx, bool labels_on_device) {
  ProbeSet d = s;
  d.train_features = s.train_features.to(ctx);
  if (s.test_features.defined()) d.test_features = s.test_features.to(ctx);
  if (labels_on_device) {
    d.train_labels = s.train_labels.to(ctx);
    if (s.test_labels.defined()) d.test_labels = s.test_labels.to(ctx);
    if (s.test_groups.defined()) d.test_groups = s.test_groups.to(ctx);
  }
  return d;
}

struct Shape5 {
  std::int64_t K, P, N, Q;
  int classes, groups;
};
const Shape5 kShapes[] = {{1, 30, 8, 12, 2, 2}, {3, 9, 33, 7, 2, 3}, {2, 40, 17, 20, 4, 2}, {3, 300, 20, 1, 3, 1}};

class ProbesCuda : public GpuTest {};

TEST_F(ProbesCuda, RidgeAndFisher) {
  for (const Shape5& sh : kShapes) {
    for (DType dt : {DType::f32, DType::f64}) {
      const ProbeSet s = test::make_probe_set(sh.K, sh.P, sh.N, sh.Q, sh.classes, sh.groups, 0.7, 9 + sh.P, dt);
      const ProbeSet g = to_device(s, *gpu, dt == DType::f64);
      const std::string what = "P " + std::to_string(sh.P) + " N " + std::to_string(sh.N) + " " + dtype_name(dt);
      for (ProbeForm form : {ProbeForm::primal, ProbeForm::dual}) {
        ProbeOptions o;
        o.form = form;
        o.keep_weights = true;
        o.max_workspace_bytes = form == ProbeForm::dual ? 1 : std::size_t(1) << 30;
        const auto rc = metrics::ridge_probe(s, 0.05, *cpu, o), rg = metrics::ridge_probe(g, 0.05, *gpu, o);
        EXPECT_EQ(rg.info, rc.info) << what;
        expect_close(rg.alpha, rc.alpha, 1e-12, what + " alpha");
        expect_close(rg.train_accuracy, rc.train_accuracy, 0, what + " ridge train");
        expect_close(rg.test_accuracy, rc.test_accuracy, 0, what + " ridge test");
        expect_close(rg.group_accuracy, rc.group_accuracy, 0, what + " ridge groups");
        expect_close(rg.weights.to_vector<double>(), rc.weights.to_vector<double>(), 1e-9, what + " ridge weights");
        expect_close(rg.intercept.to_vector<double>(), rc.intercept.to_vector<double>(), 1e-9, what + " intercept");
        const auto fc = metrics::fisher(s, 1, 0.02, *cpu, o), fg = metrics::fisher(g, 1, 0.02, *gpu, o);
        EXPECT_EQ(fg.info, fc.info) << what;
        expect_close(fg.criterion, fc.criterion, 1e-8, what + " J");
        expect_close(fg.centroid_distance, fc.centroid_distance, 1e-12, what + " ||d||");
        expect_close(fg.within_variance, fc.within_variance, 1e-12, what + " tr(S_w)");
        expect_close(fg.lambda, fc.lambda, 1e-12, what + " lambda");
        expect_close(fg.directions.to_vector<double>(), fc.directions.to_vector<double>(), 1e-7, what + " w");
      }
    }
  }
}

TEST_F(ProbesCuda, Logistic) {
  for (const Shape5& sh : kShapes) {
    const ProbeSet s = test::make_probe_set(sh.K, sh.P, sh.N, sh.Q, sh.classes, sh.groups, 0.7, 19 + sh.P, DType::f32);
    const ProbeSet g = to_device(s, *gpu, true);
    ProbeOptions o;
    o.keep_weights = true;
    const double tol = 1e-10, lambda = 0.02;
    const auto c = metrics::logistic_probe(s, lambda, 20000, tol, *cpu, o);
    const auto d = metrics::logistic_probe(g, lambda, 20000, tol, *gpu, o);
    const std::string what = "P " + std::to_string(sh.P) + " N " + std::to_string(sh.N);
    for (std::int64_t k = 0; k < sh.K; ++k) {
      EXPECT_EQ(d.converged[k], 1) << what;
      EXPECT_LE(d.grad_norm[k], tol) << what;
    }
    // Both solve the same strongly convex problem to ||grad|| <= tol: solutions agree to ~tol / lambda.
    expect_close(d.weights.to_vector<double>(), c.weights.to_vector<double>(), 1e-6, what + " weights");
    expect_close(d.intercept.to_vector<double>(), c.intercept.to_vector<double>(), 1e-6, what + " intercept");
    expect_close(d.test_log_loss, c.test_log_loss, 1e-7, what + " log-loss");
    expect_close(d.train_accuracy, c.train_accuracy, 0, what + " train accuracy");
    expect_close(d.test_accuracy, c.test_accuracy, 0, what + " test accuracy");
    expect_close(d.group_accuracy, c.group_accuracy, 0, what + " group accuracy");
    expect_close(d.scale, c.scale, 1e-12, what + " scale");
  }
}

TEST_F(ProbesCuda, RsmAndKernelAlignment) {
  for (const Shape5& sh : kShapes) {
    for (DType dt : {DType::f32, DType::f64}) {
      const ProbeSet s = test::make_probe_set(sh.K, sh.P, sh.N, sh.Q, sh.classes, sh.groups, 0.7, 29 + sh.P, dt);
      const ProbeSet g = to_device(s, *gpu, dt == DType::f32);
      const std::string what = "P " + std::to_string(sh.P) + " N " + std::to_string(sh.N) + " " + dtype_name(dt);
      ProbeOptions o;
      o.max_workspace_bytes = 1;
      const Tensor rc = metrics::rsm(s, *cpu, o), rg = metrics::rsm(g, *gpu, o);
      EXPECT_FALSE(rg.is_cuda());
      expect_close(rg.to_vector<double>(), rc.to_vector<double>(), 1e-11, what + " rsm");
      for (ProbeForm form : {ProbeForm::primal, ProbeForm::dual}) {
        o.form = form;
        const std::vector<double> ac = metrics::kernel_alignment(s.train_features, s.train_labels, sh.classes, *cpu, o);
        const std::vector<double> ag = metrics::kernel_alignment(g.train_features, g.train_labels, sh.classes, *gpu, o);
        expect_close(ag, ac, 1e-11, what + " alignment");
      }
    }
  }
}

}  // namespace
}  // namespace groove
