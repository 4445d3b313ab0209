// Linear-algebra and probe-solver ops: validate arguments (errors name the tensor), then call the
// backend kernel (kernels/cpu/linalg.cpp or kernels/cuda/linalg.cu).
#include "kernels/linalg_ops.h"

#include <groove/config.h>

#include <limits>

#include "kernels/validate.h"

namespace groove::ops {

using detail::check_exact;
using detail::check_on;

namespace {
// f64 [K, n, n]; returns {K, n}.
void check_square(const Tensor& a, const char* op, const char* name, const Context& ctx) {
  check_on(a, op, name, ctx);
  GROOVE_CHECK(a.dtype() == DType::f64 && a.ndim() == 3 && a.dim(1) == a.dim(2), op, ": tensor '", name,
               "' must be f64 [K, n, n], got ", a.str());
}

void check_rhs(const Tensor& x, const Tensor& b, std::int64_t models, std::int64_t n, const char* op,
               const Context& ctx) {
  check_on(b, op, "b", ctx);
  GROOVE_CHECK(b.dtype() == DType::f64 && (b.ndim() == 2 || b.ndim() == 3) && b.dim(-2) == n &&
                   (b.ndim() == 2 || b.dim(0) == models),
               op, ": tensor 'b' must be f64 [K, n, m] or shared [n, m] with K = ", models, ", n = ", n, ", got ",
               b.str());
  check_exact(x, op, "x", DType::f64, Shape{models, n, b.dim(-1)}, ctx);
  GROOVE_CHECK(!x.shares_storage_with(b) || (b.ndim() == 3 && x.raw() == b.raw()), op,
               ": 'x' may only alias a batched 'b' exactly (in place)");
}
}  // namespace

void cholesky_factor(Tensor& factor, Tensor& info, const Tensor& a, Context& ctx) {
  const char* op = "cholesky_factor";
  check_square(a, op, "a", ctx);
  const std::int64_t models = a.dim(0), n = a.dim(1);
  check_exact(factor, op, "factor", DType::f64, a.shape(), ctx);
  check_exact(info, op, "info", DType::i32, Shape{models}, ctx);
  GROOVE_CHECK(!factor.shares_storage_with(a) || factor.raw() == a.raw(), op,
               ": 'factor' may only alias 'a' exactly (in place)");
  if (models == 0) return;
  GROOVE_BACKEND(ctx, cholesky_factor)
  (factor.data<double>(), info.data<std::int32_t>(), a.data<double>(), models, n, ctx);
}

void cholesky_substitute(Tensor& x, const Tensor& factor, const Tensor& info, const Tensor& b, Context& ctx) {
  const char* op = "cholesky_substitute";
  check_square(factor, op, "factor", ctx);
  const std::int64_t models = factor.dim(0), n = factor.dim(1);
  check_exact(info, op, "info", DType::i32, Shape{models}, ctx);
  check_rhs(x, b, models, n, op, ctx);
  GROOVE_CHECK(!x.shares_storage_with(factor), op, ": 'x' must not share memory with 'factor'");
  if (x.numel() == 0) return;
  GROOVE_BACKEND(ctx, cholesky_substitute)
  (x.data<double>(), factor.data<double>(), info.data<std::int32_t>(), b.data<double>(),
   b.ndim() == 3 ? n * x.dim(2) : 0, models, n, x.dim(2), ctx);
}

void cholesky_solve(Tensor& x, Tensor& info, const Tensor& a, const Tensor& b, Context& ctx) {
  const char* op = "cholesky_solve";
  check_square(a, op, "a", ctx);
  const std::int64_t models = a.dim(0), n = a.dim(1);
  check_exact(info, op, "info", DType::i32, Shape{models}, ctx);
  check_rhs(x, b, models, n, op, ctx);
  GROOVE_CHECK(!x.shares_storage_with(a), op, ": 'x' must not share memory with 'a'");
  if (models == 0) return;
  auto* u = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(models * n * n) * sizeof(double)));
  GROOVE_BACKEND(ctx, cholesky_factor)(u, info.data<std::int32_t>(), a.data<double>(), models, n, ctx);
  if (x.numel() == 0) return;
  GROOVE_BACKEND(ctx, cholesky_substitute)
  (x.data<double>(), u, info.data<std::int32_t>(), b.data<double>(), b.ndim() == 3 ? n * x.dim(2) : 0, models, n,
   x.dim(2), ctx);
}

void regularize_diagonal(Tensor& a, Tensor& alpha, double rel, double denom, double fallback, Context& ctx) {
  const char* op = "regularize_diagonal";
  check_square(a, op, "a", ctx);
  check_exact(alpha, op, "alpha", DType::f64, Shape{a.dim(0)}, ctx);
  GROOVE_CHECK(denom > 0, op, ": denom must be > 0, got ", denom);
  if (a.dim(0) == 0) return;
  GROOVE_BACKEND(ctx, regularize_diagonal)
  (a.data<double>(), alpha.data<double>(), a.dim(0), a.dim(1), rel, denom, fallback, ctx);
}

void gather_features(Tensor& y, const Tensor& x1, const Tensor& x2, const Tensor& index, Context& ctx) {
  const char* op = "gather_features";
  check_on(x1, op, "x1", ctx);
  GROOVE_CHECK(is_floating(x1.dtype()) && x1.ndim() == 3, op, ": tensor 'x1' must be f32/f64 [K, P1, N], got ",
               x1.str());
  const std::int64_t models = x1.dim(0), p1 = x1.dim(1), cols = x1.dim(2);
  std::int64_t p2 = 0;
  if (x2.defined()) {
    check_on(x2, op, "x2", ctx);
    GROOVE_CHECK(x2.dtype() == x1.dtype() && x2.ndim() == 3 && x2.dim(0) == models && x2.dim(2) == cols, op,
                 ": tensor 'x2' must be ", dtype_name(x1.dtype()), "[", models, ", P2, ", cols, "] like 'x1' (",
                 x1.str(), "), got ", x2.str());
    p2 = x2.dim(1);
  }
  check_on(index, op, "index", ctx);
  GROOVE_CHECK(index.dtype() == DType::i32 && index.ndim() == 1, op, ": tensor 'index' must be i32 [R], got ",
               index.str());
  check_exact(y, op, "y", DType::f64, Shape{models, index.dim(0), cols}, ctx);
  GROOVE_CHECK(!y.shares_storage_with(x1) && !(x2.defined() && y.shares_storage_with(x2)), op,
               ": 'y' must not share memory with 'x1' or 'x2'");
  GROOVE_CHECK(p1 + p2 <= std::numeric_limits<std::int32_t>::max(), op, ": too many rows");
  if (y.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(x1.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, gather_features<T>)
    (y.data<double>(), x1.data<T>(), x2.defined() ? x2.data<T>() : nullptr, index.data<std::int32_t>(), models, p1, p2,
     index.dim(0), cols, ctx);
  });
}

void classification_scores(Tensor& accuracy, Tensor& log_loss, const Tensor& logits, const Tensor& labels,
                           const Tensor& groups, Context& ctx) {
  const char* op = "classification_scores";
  check_on(logits, op, "logits", ctx);
  GROOVE_CHECK(logits.dtype() == DType::f64 && logits.ndim() == 3 && logits.dim(2) >= 1, op,
               ": tensor 'logits' must be f64 [K, R, C'], got ", logits.str());
  const std::int64_t models = logits.dim(0), rows = logits.dim(1), outputs = logits.dim(2);
  check_exact(labels, op, "labels", DType::i32, Shape{rows}, ctx);
  check_on(accuracy, op, "accuracy", ctx);
  GROOVE_CHECK(
      accuracy.dtype() == DType::f64 && accuracy.ndim() == 2 && accuracy.dim(0) == models && accuracy.dim(1) >= 1, op,
      ": tensor 'accuracy' must be f64 [K, 1 + G] with K = ", models, ", got ", accuracy.str());
  const std::int64_t n_groups = accuracy.dim(1) - 1;
  if (n_groups > 0) {
    check_exact(groups, op, "groups", DType::i32, Shape{rows}, ctx);
  }
  if (log_loss.defined()) check_exact(log_loss, op, "log_loss", DType::f64, Shape{models}, ctx);
  if (models == 0) return;
  GROOVE_BACKEND(ctx, classification_scores)
  (accuracy.data<double>(), log_loss.defined() ? log_loss.data<double>() : nullptr, logits.data<double>(),
   labels.data<std::int32_t>(), n_groups > 0 ? groups.data<std::int32_t>() : nullptr, models, rows, outputs, n_groups,
   ctx);
}

void logistic_setup(Tensor& state, Tensor& inv_scale, const Tensor& norm, double count, Context& ctx) {
  const char* op = "logistic_setup";
  check_on(norm, op, "norm", ctx);
  GROOVE_CHECK(norm.dtype() == DType::f64 && norm.ndim() == 1, op, ": tensor 'norm' must be f64 [K], got ", norm.str());
  const std::int64_t models = norm.dim(0);
  check_exact(state, op, "state", DType::f64, Shape{linalg_math::kLogisticFields, models}, ctx);
  check_exact(inv_scale, op, "inv_scale", DType::f64, Shape{models}, ctx);
  GROOVE_CHECK(count > 0, op, ": count must be > 0, got ", count);
  if (models == 0) return;
  GROOVE_BACKEND(ctx, logistic_setup)
  (state.data<double>(), inv_scale.data<double>(), norm.data<double>(), models, count, ctx);
}

void logistic_residual(Tensor& r, const Tensor& logits, const Tensor& labels, double scale, Context& ctx) {
  const char* op = "logistic_residual";
  check_on(logits, op, "logits", ctx);
  GROOVE_CHECK(logits.dtype() == DType::f64 && logits.ndim() == 3 && logits.dim(2) >= 1, op,
               ": tensor 'logits' must be f64 [K, R, C'], got ", logits.str());
  check_exact(labels, op, "labels", DType::i32, Shape{logits.dim(1)}, ctx);
  check_exact(r, op, "r", DType::f64, logits.shape(), ctx);
  if (r.numel() == 0) return;
  GROOVE_BACKEND(ctx, logistic_residual)
  (r.data<double>(), logits.data<double>(), labels.data<std::int32_t>(), logits.dim(0), logits.dim(1), logits.dim(2),
   scale, ctx);
}

void logistic_update(Tensor& state, Tensor& w, Tensor& b, Tensor& yw, Tensor& yb, const Tensor& gw, const Tensor& gb,
                     const Tensor& zg, std::int64_t iteration, bool step, double tol, double curvature, double lambda,
                     Context& ctx) {
  const char* op = "logistic_update";
  check_on(w, op, "w", ctx);
  GROOVE_CHECK(w.dtype() == DType::f64 && w.ndim() == 3, op, ": tensor 'w' must be f64 [K, N, C'], got ", w.str());
  const std::int64_t models = w.dim(0), outputs = w.dim(2);
  check_exact(yw, op, "yw", DType::f64, w.shape(), ctx);
  check_exact(gw, op, "gw", DType::f64, w.shape(), ctx);
  check_exact(b, op, "b", DType::f64, Shape{models, outputs}, ctx);
  check_exact(yb, op, "yb", DType::f64, Shape{models, outputs}, ctx);
  check_exact(gb, op, "gb", DType::f64, Shape{models, outputs}, ctx);
  check_on(zg, op, "zg", ctx);
  GROOVE_CHECK(zg.dtype() == DType::f64 && zg.ndim() == 3 && zg.dim(0) == models && zg.dim(2) == outputs, op,
               ": tensor 'zg' must be f64 [", models, ", R, ", outputs, "], got ", zg.str());
  check_exact(state, op, "state", DType::f64, Shape{linalg_math::kLogisticFields, models}, ctx);
  GROOVE_CHECK(tol >= 0 && curvature >= 0 && lambda >= 0, op, ": tol, curvature and lambda must be >= 0, got ", tol,
               ", ", curvature, ", ", lambda);
  if (models == 0) return;
  LogisticStep s;
  s.state = state.data<double>();
  s.w = w.data<double>();
  s.b = b.data<double>();
  s.yw = yw.data<double>();
  s.yb = yb.data<double>();
  s.gw = gw.data<double>();
  s.gb = gb.data<double>();
  s.zg = zg.data<double>();
  s.models = models;
  s.params_w = w.dim(1) * outputs;
  s.outputs = outputs;
  s.rows = zg.dim(1);
  s.iteration = iteration;
  s.step = step;
  s.tol = tol;
  s.curvature = curvature;
  s.lambda = lambda;
  GROOVE_BACKEND(ctx, logistic_update)(s, ctx);
}

}  // namespace groove::ops
