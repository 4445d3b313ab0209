// Validation and dispatch of the per-step statistics ops (kernels/stats_ops.h).
#include "kernels/stats_ops.h"

#include "kernels/backend.h"
#include "kernels/validate.h"

namespace groove {

namespace stats {
std::vector<std::string> column_names(int layers, const std::vector<std::string>& groups) {
  std::vector<std::string> names(kFixedColumnNames, kFixedColumnNames + kFixedColumns);
  for (int l = 0; l < layers; ++l) {
    names.push_back("w" + std::to_string(l) + "_norm");
    names.push_back("w" + std::to_string(l) + "_move");
  }
  for (const std::string& g : groups) {
    for (const char* suffix : {"_loss", "_log10_loss", "_acc", "_ncm_acc"}) names.push_back(g + suffix);
  }
  return names;
}
}  // namespace stats

namespace ops {

using detail::check_exact;
using detail::check_float_on;

namespace {
void check_segments(const ParamSegments& s, std::int64_t numel, const char* op, const char* name) {
  GROOVE_CHECK(s.count >= 0 && s.count <= ParamSegments::kMax, op, ": '", name, "' has ", s.count, " segments");
  for (int i = 0; i < s.count; ++i) {
    GROOVE_CHECK(s.offset[i] >= 0 && s.per_model[i] >= 0 && s.offset[i] + s.models * s.per_model[i] <= numel, op,
                 ": segment ", i, " of '", name, "' (offset ", s.offset[i], ", ", s.models, " x ", s.per_model[i],
                 ") lies outside the ", numel, " parameters");
  }
}
}  // namespace

void margins(Tensor& out, const Tensor& logits, const Tensor& labels, Context& ctx) {
  check_float_on(logits, "margins", "logits", ctx);
  GROOVE_CHECK(logits.ndim() == 3, "margins: 'logits' must be [K, n, C], got ", logits.str());
  const std::int64_t k = logits.dim(0), n = logits.dim(1), c = logits.dim(2);
  check_exact(labels, "margins", "labels", DType::i32, {n}, ctx);
  check_exact(out, "margins", "out", DType::f64, {k, n}, ctx);
  GROOVE_DISPATCH_FLOAT(logits.dtype(), "margins", [&] {
    GROOVE_BACKEND(ctx, margins<T>)(out.data<double>(), logits.data<T>(), labels.data<std::int32_t>(), k, n, c, ctx);
  });
}

void class_means(Tensor& means, const Tensor& features, const Tensor& classes, Context& ctx) {
  check_float_on(features, "class_means", "features", ctx);
  GROOVE_CHECK(features.ndim() == 3, "class_means: 'features' must be [K, n, N], got ", features.str());
  GROOVE_CHECK(means.ndim() == 3, "class_means: 'means' must be [K, C, N], got ", means.str());
  const std::int64_t k = features.dim(0), n = features.dim(1), dim = features.dim(2), c = means.dim(1);
  check_exact(means, "class_means", "means", features.dtype(), {k, c, dim}, ctx);
  check_exact(classes, "class_means", "classes", DType::i32, {n}, ctx);
  GROOVE_DISPATCH_FLOAT(features.dtype(), "class_means", [&] {
    GROOVE_BACKEND(ctx, class_means<T>)
    (means.data<T>(), features.data<T>(), classes.data<std::int32_t>(), k, n, dim, c, ctx);
  });
}

void sq_distances(Tensor& out, const Tensor& features, const Tensor& means, Context& ctx) {
  check_float_on(features, "sq_distances", "features", ctx);
  GROOVE_CHECK(features.ndim() == 3, "sq_distances: 'features' must be [K, n, N], got ", features.str());
  GROOVE_CHECK(means.ndim() == 3, "sq_distances: 'means' must be [K, C, N], got ", means.str());
  const std::int64_t k = features.dim(0), n = features.dim(1), dim = features.dim(2), c = means.dim(1);
  check_exact(means, "sq_distances", "means", features.dtype(), {k, c, dim}, ctx);
  check_exact(out, "sq_distances", "out", DType::f64, {k, n, c}, ctx);
  GROOVE_DISPATCH_FLOAT(features.dtype(), "sq_distances", [&] {
    GROOVE_BACKEND(ctx, sq_distances<T>)(out.data<double>(), features.data<T>(), means.data<T>(), k, n, dim, c, ctx);
  });
}

void param_norms(Tensor& out, const Tensor& values, const Tensor& initial, const Tensor& grads,
                 const ParamSegments& weights, const ParamSegments& all, Context& ctx) {
  check_float_on(values, "param_norms", "values", ctx);
  check_exact(initial, "param_norms", "initial", values.dtype(), values.shape(), ctx);
  if (grads.defined()) check_exact(grads, "param_norms", "grads", values.dtype(), values.shape(), ctx);
  check_segments(weights, values.numel(), "param_norms", "weights");
  check_segments(all, values.numel(), "param_norms", "all");
  GROOVE_CHECK(weights.models == all.models, "param_norms: the segment lists disagree on the number of models (",
               weights.models, " vs ", all.models, ")");
  check_exact(out, "param_norms", "out", DType::f64, {weights.models, 3 * weights.count + 1}, ctx);
  GROOVE_DISPATCH_FLOAT(values.dtype(), "param_norms", [&] {
    GROOVE_BACKEND(ctx, param_norms<T>)
    (out.data<double>(), values.data<T>(), initial.data<T>(), grads.defined() ? grads.data<T>() : nullptr, weights, all,
     ctx);
  });
}

void pgd_step(Tensor& delta, const Tensor& grad, double step_size, double epsilon, Context& ctx) {
  check_float_on(delta, "pgd_step", "delta", ctx);
  check_exact(grad, "pgd_step", "grad", delta.dtype(), delta.shape(), ctx);
  GROOVE_CHECK(epsilon >= 0 && step_size >= 0, "pgd_step: epsilon and step_size must be >= 0, got ", epsilon, " and ",
               step_size);
  GROOVE_DISPATCH_FLOAT(delta.dtype(), "pgd_step", [&] {
    GROOVE_BACKEND(ctx, pgd_step<T>)
    (delta.data<T>(), grad.data<T>(), delta.numel(), static_cast<T>(step_size), static_cast<T>(epsilon), ctx);
  });
}

void step_summary(Tensor& rows, Tensor& margins_ring, Tensor& scratch, const StepSummaryInputs& in, Context& ctx) {
  const char* op = "step_summary";
  check_exact(in.train_margins, op, "train_margins", DType::f64, in.train_margins.shape(), ctx);
  GROOVE_CHECK(in.train_margins.ndim() == 2 && in.train_margins.dim(1) >= 1, op,
               ": 'train_margins' must be [K, P] with P >= 1, got ", in.train_margins.str());
  const std::int64_t k = in.train_margins.dim(0), p = in.train_margins.dim(1);
  GROOVE_CHECK(in.layers >= 0 && in.groups >= 0 && in.every >= 1, op, ": bad layers/groups/every (", in.layers, ", ",
               in.groups, ", ", in.every, ")");
  check_exact(in.train_classes, op, "train_classes", DType::i32, {p}, ctx);
  check_float_on(in.train_loss, op, "train_loss", ctx);
  check_exact(in.train_loss, op, "train_loss", in.train_loss.dtype(), {k}, ctx);
  check_exact(in.train_log10_loss, op, "train_log10_loss", in.train_loss.dtype(), {k}, ctx);
  check_exact(in.norms, op, "norms", DType::f64, {k, 3 * in.layers + 1}, ctx);
  check_exact(in.step, op, "step", DType::i32, {1}, ctx);
  std::int64_t c = 2, n_features = 0;
  if (in.train_dist.defined()) {
    GROOVE_CHECK(in.train_dist.ndim() == 3, op, ": 'train_dist' must be [K, P, C], got ", in.train_dist.str());
    c = in.train_dist.dim(2);
    check_exact(in.train_dist, op, "train_dist", DType::f64, {k, p, c}, ctx);
    check_float_on(in.means, op, "means", ctx);
    GROOVE_CHECK(in.means.ndim() == 3 && in.means.dim(0) == k && in.means.dim(1) == c, op, ": 'means' must be [", k,
                 ", ", c, ", N], got ", in.means.str());
    n_features = in.means.dim(2);
  }
  std::int64_t q = 0;
  if (in.heldout_margins.defined()) {
    GROOVE_CHECK(in.heldout_margins.ndim() == 2, op, ": 'heldout_margins' must be [K, Q], got ",
                 in.heldout_margins.str());
    q = in.heldout_margins.dim(1);
    check_exact(in.heldout_margins, op, "heldout_margins", DType::f64, {k, q}, ctx);
    check_exact(in.heldout_classes, op, "heldout_classes", DType::i32, {q}, ctx);
    check_exact(in.heldout_groups, op, "heldout_groups", DType::i32, {q}, ctx);
    check_exact(in.heldout_per_example, op, "heldout_per_example", DType::f64, {2, k, q}, ctx);
    if (in.train_dist.defined()) check_exact(in.heldout_dist, op, "heldout_dist", DType::f64, {k, q, c}, ctx);
  }
  const int columns = stats::row_columns(in.layers, in.groups);
  GROOVE_CHECK(rows.ndim() == 3, op, ": 'rows' must be [R, K, M], got ", rows.str());
  const std::int64_t r = rows.dim(0);
  check_exact(rows, op, "rows", DType::f64, {r, k, columns}, ctx);
  if (margins_ring.defined()) check_exact(margins_ring, op, "margins_ring", DType::f32, {r, k, p + q}, ctx);
  std::int64_t p2 = 1;
  while (p2 < p) p2 <<= 1;
  GROOVE_CHECK(scratch.ndim() == 2 && scratch.dim(0) == k && scratch.dim(1) >= p2, op, ": 'scratch' must be [", k,
               ", >= ", p2, "], got ", scratch.str());
  check_exact(scratch, op, "scratch", DType::f64, scratch.shape(), ctx);

  StepSummaryArgs a;
  a.train_margins = in.train_margins.data<double>();
  a.train_classes = in.train_classes.data<std::int32_t>();
  a.train_loss = in.train_loss.raw();
  a.train_log10_loss = in.train_log10_loss.raw();
  a.loss_f64 = in.train_loss.dtype() == DType::f64;
  if (in.train_dist.defined()) {
    a.train_dist = in.train_dist.data<double>();
    a.means = in.means.raw();
    a.means_f64 = in.means.dtype() == DType::f64;
  }
  if (q > 0) {
    a.heldout_margins = in.heldout_margins.data<double>();
    a.heldout_classes = in.heldout_classes.data<std::int32_t>();
    a.heldout_groups = in.heldout_groups.data<std::int32_t>();
    a.heldout_per_example = in.heldout_per_example.data<double>();
    if (in.train_dist.defined()) a.heldout_dist = in.heldout_dist.data<double>();
  }
  a.norms = in.norms.data<double>();
  a.step = in.step.data<std::int32_t>();
  a.rows = rows.data<double>();
  a.margins_ring = margins_ring.defined() ? margins_ring.data<float>() : nullptr;
  a.scratch = scratch.data<double>();
  a.models = k;
  a.train = p;
  a.classes = c;
  a.features = n_features;
  a.heldout = q;
  a.ring_rows = r;
  a.every = in.every;
  a.scratch_stride = scratch.dim(1);
  a.layers = in.layers;
  a.groups = in.groups;
  GROOVE_BACKEND(ctx, step_summary)(a, ctx);
}

}  // namespace ops
}  // namespace groove
