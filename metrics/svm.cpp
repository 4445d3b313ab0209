// svm_max_margin: Gram matrices of the centered features on the device (chunked over models), one
// ops::svm_dual_solve per SVM (binary, or one-vs-rest), then a small host read per chunk.
#include "metrics/svm.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/svm_ops.h"

namespace groove::metrics {

namespace {
constexpr const char* kOp = "svm_max_margin";

// min that propagates NaN.
double nan_min(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return std::min(a, b);
}

// What one SVM says about one model.
struct SvmResult {
  double margin, min_distance, closest_a, closest_b, margin_bound;
  bool separable, converged;
  int iterations;
};

SvmResult read_result(const double* summary, const std::int32_t* info) {
  SvmResult r;
  const int status = info[1];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.iterations = info[0];
  r.converged = status != svm::kMaxIter;
  r.separable = status != svm::kOneClass && summary[svm::kWrong] == 0;
  const double w_norm = summary[svm::kWNorm];
  const bool hard = status == svm::kConverged && r.separable && summary[svm::kAtBound] == 0 && w_norm > 0;
  r.margin = hard ? 1.0 / w_norm : nan;
  r.min_distance = summary[svm::kMinDistance];
  r.closest_a = summary[svm::kClosestA];
  r.closest_b = summary[svm::kClosestB];
  r.margin_bound = summary[svm::kMarginBound];
  return r;
}
}  // namespace

SvmStats svm_max_margin(const Tensor& features, const Tensor& labels, int classes, const SvmOptions& options,
                        Context& ctx) {
  GROOVE_CHECK(features.defined(), kOp, ": tensor 'features' is undefined");
  GROOVE_CHECK(is_floating(features.dtype()) && features.ndim() == 3, kOp,
               ": 'features' must be f32 or f64 [K, P, N], got ", features.str());
  GROOVE_CHECK(features.device() == ctx.device(), kOp, ": tensor 'features' (", features.str(), ") is not on ",
               ctx.device().str(), ", the context's device");
  const std::int64_t K = features.dim(0), P = features.dim(1), N = features.dim(2);
  GROOVE_CHECK(labels.defined(), kOp, ": tensor 'labels' is undefined");
  GROOVE_CHECK(labels.dtype() == DType::i32 && labels.shape() == Shape({P}), kOp, ": 'labels' must be i32 [", P,
               "] for features ", features.str(), ", got ", labels.str());
  GROOVE_CHECK(classes >= 1, kOp, ": classes must be >= 1, got ", classes);
  GROOVE_CHECK(options.c > 0 && !std::isnan(options.c), kOp, ": options.c must be > 0 (inf: hard margin), got ",
               options.c);
  GROOVE_CHECK(options.resolution >= 0 && std::isfinite(options.resolution), kOp,
               ": options.resolution must be finite and >= 0, got ", options.resolution);
  GROOVE_CHECK(options.workspace_bytes > 0, kOp, ": options.workspace_bytes must be > 0");

  // Labels to the host (P values), validated, and the +1 / -1 vector of each SVM.
  const std::vector<std::int32_t> lab = labels.to_vector<std::int32_t>();
  const int label_classes = classes == 1 ? 2 : classes;
  for (std::int64_t i = 0; i < P; ++i) {
    GROOVE_CHECK(lab[i] >= 0 && lab[i] < label_classes, kOp, ": labels[", i, "] = ", lab[i], " is outside [0, ",
                 label_classes, ") for classes = ", classes);
  }
  std::vector<std::vector<double>> ys;
  if (label_classes == 2) {
    std::vector<double> y(static_cast<std::size_t>(P));
    for (std::int64_t i = 0; i < P; ++i) y[i] = lab[i] == 1 ? 1.0 : -1.0;
    ys.push_back(std::move(y));
  } else {
    for (int c = 0; c < label_classes; ++c) {
      if (std::find(lab.begin(), lab.end(), c) == lab.end()) continue;  // absent class: no SVM
      std::vector<double> y(static_cast<std::size_t>(P));
      for (std::int64_t i = 0; i < P; ++i) y[i] = lab[i] == c ? 1.0 : -1.0;
      ys.push_back(std::move(y));
    }
  }
  const std::int64_t n_svms = static_cast<std::int64_t>(ys.size());

  SvmStats st;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  st.margin.assign(K, nan);
  st.closest_1pct.assign(K, nan);
  st.closest_5pct.assign(K, nan);
  st.min_distance.assign(K, nan);
  st.margin_bound.assign(K, nan);
  st.separable.assign(K, 0);
  st.iterations.assign(K, 0);
  st.converged.assign(K, 1);
  if (K == 0 || P == 0) return st;

  // Models per chunk: the centered f64 features, the Gram matrices and the solver's vectors.
  const double per_model = 8.0 * (double(P) * double(P) + double(P) * double(N) + 6.0 * double(P) + double(N)) +
                           8.0 * double(n_svms) * (svm::kSummaryColumns + 1);
  GROOVE_CHECK(per_model <= double(options.workspace_bytes), kOp, ": one model needs ", per_model,
               " bytes of workspace (P = ", P, " examples: a ", P, " x ", P,
               " f64 Gram matrix), more than options.workspace_bytes = ", options.workspace_bytes,
               "; raise the cap or probe fewer examples");
  const std::int64_t chunk = std::max<std::int64_t>(
      1, std::min<std::int64_t>(K, static_cast<std::int64_t>(double(options.workspace_bytes) / per_model)));

  Tensor x = Tensor::empty({chunk, P, N}, DType::f64, ctx);
  Tensor mean = Tensor::empty({chunk, N}, DType::f64, ctx);
  Tensor gram = Tensor::empty({chunk, P, P}, DType::f64, ctx);
  Tensor alpha = Tensor::empty({chunk, P}, DType::f64, ctx);
  Tensor bias = Tensor::empty({chunk}, DType::f64, ctx);
  Tensor info = Tensor::empty({n_svms, chunk, 2}, DType::i32, ctx);
  Tensor summary = Tensor::empty({n_svms, chunk, svm::kSummaryColumns}, DType::f64, ctx);
  std::vector<Tensor> y_dev;
  for (const auto& y : ys) y_dev.push_back(Tensor::from_vector<double>({P}, y).to(ctx));

  ops::SvmSolveOptions so;
  so.c = options.c;
  so.relative_c = true;
  so.tol = options.tol;
  so.max_iter = options.max_iter;
  so.resolution = options.resolution;
  so.closest_fractions[0] = 0.01;
  so.closest_fractions[1] = 0.05;

  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    const std::int64_t n = std::min(chunk, K - k0);
    Tensor xv = x.models(0, n), mv = mean.models(0, n), gv = gram.models(0, n);
    Tensor av = alpha.models(0, n), bv = bias.models(0, n);
    // x = features - their mean over examples (the SVM with bias does not see the translation; the
    // centered Gram matrix has no large common offset to cancel), G = x x^T.
    ops::convert(xv, features.models(k0, n), ctx);
    ops::reduce(mv, xv, 1, ReduceOp::mean, ctx);
    ops::scale(mv, mv, -1.0, ctx);
    ops::bias_add(xv, xv, mv, ctx);
    ops::GemmOptions go;
    go.trans_b = true;
    ops::gemm(gv, xv, xv, go, ctx);
    for (std::int64_t c = 0; c < n_svms; ++c) {
      Tensor iv = info.model(c).models(0, n), sv = summary.model(c).models(0, n);
      ops::svm_dual_solve(av, bv, iv, sv, gv, y_dev[c], so, ctx);
    }
    const std::vector<std::int32_t> h_info = info.to_vector<std::int32_t>();
    const std::vector<double> h_summary = summary.to_vector<double>();
    for (std::int64_t m = 0; m < n; ++m) {
      const std::int64_t k = k0 + m;
      for (std::int64_t c = 0; c < n_svms; ++c) {
        const SvmResult r =
            read_result(&h_summary[(c * chunk + m) * svm::kSummaryColumns], &h_info[(c * chunk + m) * 2]);
        if (c == 0) {
          st.margin[k] = r.margin;
          st.min_distance[k] = r.min_distance;
          st.closest_1pct[k] = r.closest_a;
          st.closest_5pct[k] = r.closest_b;
          st.margin_bound[k] = r.margin_bound;
          st.separable[k] = r.separable;
          st.converged[k] = r.converged;
          st.iterations[k] = r.iterations;
        } else {
          st.margin[k] = nan_min(st.margin[k], r.margin);
          st.min_distance[k] = nan_min(st.min_distance[k], r.min_distance);
          st.closest_1pct[k] = nan_min(st.closest_1pct[k], r.closest_a);
          st.closest_5pct[k] = nan_min(st.closest_5pct[k], r.closest_b);
          st.margin_bound[k] = nan_min(st.margin_bound[k], r.margin_bound);
          st.separable[k] = st.separable[k] && r.separable;
          st.converged[k] = st.converged[k] && r.converged;
          st.iterations[k] += r.iterations;
        }
      }
    }
  }
  return st;
}

}  // namespace groove::metrics
