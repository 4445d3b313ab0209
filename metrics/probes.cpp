// Representation probes (metrics/probes.h), composed from device ops: ops::convert / gather_features
// load a chunk of models in f64, ops::reduce + ops::bias_add center, ops::gemm forms Gram
// matrices and products, kernels/linalg_ops.h factors, solves and scores. The host reads the
// shared labels once and the per-model results at the end of each chunk.
#include "metrics/probes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/linalg_ops.h"
#include "kernels/ops.h"

namespace groove::metrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kCheckEvery = 16;  // logistic: iterations between host checks of convergence

// ---------------------------------------------------------------------------------------------
// Validation and host-side label bookkeeping

std::vector<std::int32_t> read_labels(const Tensor& t, const char* op, const char* name, std::int64_t n,
                                      std::int32_t limit, const char* limit_what) {
  GROOVE_CHECK(t.defined(), op, ": tensor '", name, "' is undefined");
  GROOVE_CHECK(t.dtype() == DType::i32 && t.ndim() == 1 && t.dim(0) == n, op, ": tensor '", name, "' must be i32 [", n,
               "], got ", t.str());
  std::vector<std::int32_t> v = t.to_vector<std::int32_t>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    GROOVE_CHECK(v[i] >= 0 && v[i] < limit, op, ": ", name, "[", i, "] = ", v[i], " is out of range [0, ", limit, ") (",
                 limit_what, ")");
  }
  return v;
}

void check_features(const Tensor& t, const char* op, const char* name, const Context& ctx) {
  GROOVE_CHECK(t.defined(), op, ": tensor '", name, "' is undefined");
  GROOVE_CHECK(is_floating(t.dtype()) && t.ndim() == 3, op, ": tensor '", name, "' must be f32/f64 [K, P, N], got ",
               t.str());
  GROOVE_CHECK(t.device() == ctx.device(), op, ": tensor '", name, "' (", t.str(), ") is not on ", ctx.device().str(),
               ", the context's device");
}

// The validated inputs of a probe with host copies of the labels and device copies where needed.
struct Prepared {
  std::int64_t models = 0, p = 0, n = 0, q = 0;
  int classes = 2, groups = 0;
  std::vector<std::int32_t> labels, test_labels, test_groups;
  Tensor labels_dev, test_labels_dev, test_groups_dev;
};

Tensor on_device(const Tensor& t, Context& ctx) {
  return t.device() == ctx.device() ? t : t.to(ctx);
}

Prepared prepare(const ProbeSet& set, const char* op, bool need_test_labels, Context& ctx) {
  Prepared r;
  check_features(set.train_features, op, "train_features", ctx);
  r.models = set.train_features.dim(0);
  r.p = set.train_features.dim(1);
  r.n = set.train_features.dim(2);
  GROOVE_CHECK(r.p >= 1, op, ": 'train_features' has no examples: ", set.train_features.str());
  GROOVE_CHECK(r.n >= 1, op, ": 'train_features' has no units: ", set.train_features.str());
  GROOVE_CHECK(set.classes >= 1, op, ": classes must be >= 1, got ", set.classes);
  GROOVE_CHECK(set.groups >= 0, op, ": groups must be >= 0, got ", set.groups);
  r.classes = std::max(set.classes, 2);
  r.groups = set.groups;
  r.labels = read_labels(set.train_labels, op, "train_labels", r.p, r.classes, "classes");
  r.labels_dev = on_device(set.train_labels, ctx);
  if (set.test_features.defined()) {
    check_features(set.test_features, op, "test_features", ctx);
    const Tensor& t = set.test_features;
    GROOVE_CHECK(t.dtype() == set.train_features.dtype() && t.dim(0) == r.models && t.dim(2) == r.n, op,
                 ": tensor 'test_features' must be ", dtype_name(set.train_features.dtype()), "[", r.models, ", Q, ",
                 r.n, "] like 'train_features' (", set.train_features.str(), "), got ", t.str());
    r.q = t.dim(1);
  }
  if (r.q > 0 && need_test_labels) {
    r.test_labels = read_labels(set.test_labels, op, "test_labels", r.q, r.classes, "classes");
    r.test_labels_dev = on_device(set.test_labels, ctx);
  }
  if (r.q > 0 && r.groups > 0) {
    r.test_groups = read_labels(set.test_groups, op, "test_groups", r.q, r.groups, "groups");
    r.test_groups_dev = on_device(set.test_groups, ctx);
  }
  return r;
}

// Models per chunk so that a chunk's workspace (doubles_per_model f64 values per model) stays
// below the cap; at least 1.
std::int64_t chunk_models(std::int64_t models, double doubles_per_model, const ProbeOptions& o) {
  const double per_model = std::max(1.0, doubles_per_model) * sizeof(double);
  const double fit = std::floor(static_cast<double>(o.max_workspace_bytes) / per_model);
  return std::max<std::int64_t>(1,
                                std::min<std::int64_t>(models, fit > 1e15 ? models : static_cast<std::int64_t>(fit)));
}

bool use_primal(ProbeForm form, std::int64_t units, std::int64_t examples) {
  return form == ProbeForm::primal || (form == ProbeForm::automatic && units <= examples);
}

Tensor upload(const std::vector<double>& v, const Shape& shape, Context& ctx) {
  return Tensor::from_vector<double>(shape, v).to(ctx);
}
Tensor upload(const std::vector<std::int32_t>& v, const Shape& shape, Context& ctx) {
  return Tensor::from_vector<std::int32_t>(shape, v).to(ctx);
}

Tensor f64(const Shape& shape, Context& ctx) {
  return Tensor::empty(shape, DType::f64, ctx);
}

// Features of models [k0, k0 + kc) in f64: dst [kc, rows, N].
Tensor load(const Tensor& features, std::int64_t k0, std::int64_t kc, Context& ctx) {
  Tensor x = f64({kc, features.dim(1), features.dim(2)}, ctx);
  ops::convert(x, features.models(k0, kc), ctx);
  return x;
}

ops::GemmOptions gemm_opts(bool trans_a, bool trans_b, double alpha = 1.0, double beta = 0.0) {
  ops::GemmOptions o;
  o.trans_a = trans_a;
  o.trans_b = trans_b;
  o.alpha = alpha;
  o.beta = beta;
  return o;
}

// Frobenius norm per model of x [kc, ...]: out [kc].
Tensor model_norms(const Tensor& x, Context& ctx) {
  const std::int64_t kc = x.dim(0);
  Tensor out = f64({kc}, ctx);
  ops::reduce(out, x.reshape({kc, x.numel() / kc}), 1, ReduceOp::l2norm, ctx);
  return out;
}

// Centers x [kc, rows, N] in place by the per-model mean row; returns -mu [kc, N].
Tensor center_rows(Tensor& x, Context& ctx) {
  Tensor mu = f64({x.dim(0), x.dim(2)}, ctx);
  ops::reduce(mu, x, 1, ReduceOp::mean, ctx);
  ops::scale(mu, mu, -1.0, ctx);
  ops::bias_add(x, x, mu, ctx);
  return mu;
}

void append(std::vector<double>& dst, const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  dst.insert(dst.end(), v.begin(), v.end());
}

// Train accuracy [kc], held-out accuracy [kc] + per-group [kc, G] (+ log-loss) of logits.
struct Scores {
  std::vector<double> train, test, groups, log_loss;
};

void score_chunk(Scores& out, const Tensor& train_logits, const Tensor* test_logits, bool with_loss, const Prepared& pr,
                 Context& ctx) {
  const std::int64_t kc = train_logits.dim(0);
  Tensor acc = f64({kc, 1}, ctx), none;
  ops::classification_scores(acc, none, train_logits, pr.labels_dev, none, ctx);
  append(out.train, acc);
  if (test_logits) {
    Tensor tacc = f64({kc, 1 + pr.groups}, ctx);
    Tensor loss = with_loss ? f64({kc}, ctx) : Tensor();
    ops::classification_scores(tacc, loss, *test_logits, pr.test_labels_dev, pr.test_groups_dev, ctx);
    const std::vector<double> v = tacc.to_vector<double>();
    for (std::int64_t k = 0; k < kc; ++k) {
      out.test.push_back(v[static_cast<std::size_t>(k * (1 + pr.groups))]);
      for (int g = 0; g < pr.groups; ++g)
        out.groups.push_back(v[static_cast<std::size_t>(k * (1 + pr.groups) + 1 + g)]);
    }
    if (with_loss) append(out.log_loss, loss);
  } else {
    out.test.insert(out.test.end(), static_cast<std::size_t>(kc), kNaN);
    out.groups.insert(out.groups.end(), static_cast<std::size_t>(kc * pr.groups), kNaN);
    if (with_loss) out.log_loss.insert(out.log_loss.end(), static_cast<std::size_t>(kc), kNaN);
  }
}

// Ridge targets [P, C'] (+-1 or one-hot).
std::vector<double> targets(const std::vector<std::int32_t>& labels, int classes) {
  const std::size_t outputs = classes == 2 ? 1 : static_cast<std::size_t>(classes);
  std::vector<double> t(labels.size() * outputs, 0.0);
  for (std::size_t p = 0; p < labels.size(); ++p) {
    if (outputs == 1) {
      t[p] = labels[p] == 1 ? 1.0 : -1.0;
    } else {
      t[p * outputs + static_cast<std::size_t>(labels[p])] = 1.0;
    }
  }
  return t;
}

// x [kc, rows, N] @ w [kc, N, C'] + b (b [kc, C'] per model or shared [C']).
Tensor logits_of(const Tensor& x, const Tensor& w, const Tensor& b, Context& ctx) {
  Tensor f = f64({x.dim(0), x.dim(1), w.dim(2)}, ctx);
  ops::gemm(f, x, w, gemm_opts(false, false), ctx);
  ops::bias_add(f, f, b, ctx);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Spearman

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j) + 1.0;  // mean of ranks i + 1 .. j + 1
    for (std::size_t t = i; t <= j; ++t) rank[order[t]] = r;
    i = j + 1;
  }
  return rank;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa == 0 || sbb == 0) return kNaN;
  return sab / std::sqrt(saa * sbb);
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Ridge

RidgeProbeResult ridge_probe(const ProbeSet& set, double lambda, Context& ctx, const ProbeOptions& options) {
  const char* op = "ridge_probe";
  GROOVE_CHECK(lambda >= 0 && std::isfinite(lambda), op, ": lambda must be finite and >= 0, got ", lambda);
  const Prepared pr = prepare(set, op, true, ctx);
  const std::int64_t K = pr.models, P = pr.p, N = pr.n, Q = pr.q, C = pr.classes;
  const std::int64_t out = C == 2 ? 1 : C;
  const bool primal = use_primal(options.form, N, P);
  const std::int64_t sys = primal ? N : P;

  // Centered targets (shared) and their mean.
  const std::vector<double> t = targets(pr.labels, pr.classes);
  std::vector<double> tbar(static_cast<std::size_t>(out), 0.0), tc(t);
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t c = 0; c < out; ++c) tbar[c] += t[p * out + c] / static_cast<double>(P);
  }
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t c = 0; c < out; ++c) tc[p * out + c] -= tbar[c];
  }
  const Tensor tc_dev = upload(tc, {P, out}, ctx), tbar_dev = upload(tbar, {out}, ctx);

  RidgeProbeResult res;
  if (options.keep_weights) {
    res.weights = Tensor::empty({K, N, out}, DType::f64, ctx);
    res.intercept = Tensor::empty({K, out}, DType::f64, ctx);
  }
  Scores scores;
  const double per_model = static_cast<double>((P + Q) * N + 2 * sys * sys + 3 * N * out + (P + Q) * out);
  const std::int64_t chunk = chunk_models(K, per_model, options);
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    const std::int64_t kc = std::min(chunk, K - k0);
    Tensor x = load(set.train_features, k0, kc, ctx);
    const Tensor neg_mu = center_rows(x, ctx);
    Tensor a = f64({kc, sys, sys}, ctx), alpha = f64({kc}, ctx);
    Tensor info = Tensor::empty({kc}, DType::i32, ctx);
    Tensor w = f64({kc, N, out}, ctx);
    ops::gemm(a, x, x, gemm_opts(primal, !primal), ctx);
    ops::regularize_diagonal(a, alpha, lambda, static_cast<double>(N), lambda, ctx);
    ops::cholesky_factor(a, info, a, ctx);
    if (primal) {
      ops::gemm(w, x, tc_dev, gemm_opts(true, false), ctx);
      ops::cholesky_substitute(w, a, info, w, ctx);
    } else {
      Tensor coef = f64({kc, P, out}, ctx);
      ops::cholesky_substitute(coef, a, info, tc_dev, ctx);
      ops::gemm(w, x, coef, gemm_opts(true, false), ctx);
    }
    const Tensor f = logits_of(x, w, tbar_dev, ctx);
    Tensor ft;
    if (Q > 0) {
      Tensor xt = load(set.test_features, k0, kc, ctx);
      ops::bias_add(xt, xt, neg_mu, ctx);
      ft = logits_of(xt, w, tbar_dev, ctx);
    }
    score_chunk(scores, f, Q > 0 ? &ft : nullptr, false, pr, ctx);
    append(res.alpha, alpha);
    const std::vector<std::int32_t> iv = info.to_vector<std::int32_t>();
    res.info.insert(res.info.end(), iv.begin(), iv.end());
    if (options.keep_weights) {
      Tensor wk = res.weights.models(k0, kc), ik = res.intercept.models(k0, kc);
      ops::copy(wk, w, ctx);
      Tensor ic = f64({kc, 1, out}, ctx);
      ops::gemm(ic, neg_mu.reshape({kc, 1, N}), w, gemm_opts(false, false), ctx);
      ops::bias_add(ic, ic, tbar_dev, ctx);
      ops::copy(ik, ic.reshape({kc, out}), ctx);
    }
  }
  res.train_accuracy = std::move(scores.train);
  res.test_accuracy = std::move(scores.test);
  res.group_accuracy = std::move(scores.groups);
  return res;
}

// ---------------------------------------------------------------------------------------------
// Logistic

LogisticProbeResult logistic_probe(const ProbeSet& set, double lambda, int max_iter, double tol, Context& ctx,
                                   const ProbeOptions& options) {
  const char* op = "logistic_probe";
  GROOVE_CHECK(lambda >= 0 && std::isfinite(lambda), op, ": lambda must be finite and >= 0, got ", lambda);
  GROOVE_CHECK(max_iter >= 0, op, ": max_iter must be >= 0, got ", max_iter);
  GROOVE_CHECK(tol >= 0, op, ": tol must be >= 0, got ", tol);
  const Prepared pr = prepare(set, op, true, ctx);
  const std::int64_t K = pr.models, P = pr.p, N = pr.n, Q = pr.q, C = pr.classes;
  const std::int64_t out = C == 2 ? 1 : C;
  const double curvature = (out == 1 ? 0.25 : 0.5) / static_cast<double>(P);

  LogisticProbeResult res;
  if (options.keep_weights) {
    res.weights = Tensor::empty({K, N, out}, DType::f64, ctx);
    res.intercept = Tensor::empty({K, out}, DType::f64, ctx);
  }
  Scores scores;
  const double per_model = static_cast<double>((P + Q) * N + 6 * N * out + 4 * (P + Q) * out);
  const std::int64_t chunk = chunk_models(K, per_model, options);
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    const std::int64_t kc = std::min(chunk, K - k0);
    Tensor z = load(set.train_features, k0, kc, ctx);
    const Tensor neg_mu = center_rows(z, ctx);
    Tensor state = f64({linalg_math::kLogisticFields, kc}, ctx), inv_scale = f64({kc}, ctx);
    ops::logistic_setup(state, inv_scale, model_norms(z, ctx), static_cast<double>(P * N), ctx);
    ops::scale(z, z, inv_scale, ctx);

    Tensor w = Tensor::zeros({kc, N, out}, DType::f64, ctx), yw = Tensor::zeros({kc, N, out}, DType::f64, ctx);
    Tensor b = Tensor::zeros({kc, out}, DType::f64, ctx), yb = Tensor::zeros({kc, out}, DType::f64, ctx);
    Tensor f = f64({kc, P, out}, ctx), r = f64({kc, P, out}, ctx), zg = f64({kc, P, out}, ctx);
    Tensor gw = f64({kc, N, out}, ctx), gb = f64({kc, out}, ctx);
    // gw, gb = the gradient of F at (uw, ub); f holds the logits there.
    auto gradient = [&](const Tensor& uw, const Tensor& ub) {
      ops::gemm(f, z, uw, gemm_opts(false, false), ctx);
      ops::bias_add(f, f, ub, ctx);
      ops::logistic_residual(r, f, pr.labels_dev, 1.0 / static_cast<double>(P), ctx);
      ops::gemm(gw, z, r, gemm_opts(true, false), ctx);
      ops::axpy(gw, uw, lambda, ctx);
      ops::reduce(gb, r, 1, ReduceOp::sum, ctx);
    };
    for (int it = 0; it <= max_iter; ++it) {
      gradient(yw, yb);
      ops::gemm(zg, z, gw, gemm_opts(false, false), ctx);
      ops::bias_add(zg, zg, gb, ctx);
      ops::logistic_update(state, w, b, yw, yb, gw, gb, zg, it, it < max_iter, tol, curvature, lambda, ctx);
      if ((it + 1) % kCheckEvery == 0 && it < max_iter) {
        const std::vector<double> status = state.model(linalg_math::kLogisticStatus).to_vector<double>();
        if (std::all_of(status.begin(), status.end(), [](double s) { return s != 0.0; })) break;
      }
    }
    // The gradient at the returned solution, and the scores.
    gradient(w, b);
    const std::vector<double> gwn = model_norms(gw, ctx).to_vector<double>();
    const std::vector<double> gbn = model_norms(gb, ctx).to_vector<double>();
    for (std::int64_t k = 0; k < kc; ++k) res.grad_norm.push_back(std::hypot(gwn[k], gbn[k]));
    Tensor ft;
    if (Q > 0) {
      Tensor zt = load(set.test_features, k0, kc, ctx);
      ops::bias_add(zt, zt, neg_mu, ctx);
      ops::scale(zt, zt, inv_scale, ctx);
      ft = logits_of(zt, w, b, ctx);
    }
    score_chunk(scores, f, Q > 0 ? &ft : nullptr, true, pr, ctx);
    const std::vector<double> st = state.to_vector<double>();
    const std::vector<double> inv = inv_scale.to_vector<double>();
    for (std::int64_t k = 0; k < kc; ++k) {
      res.converged.push_back(st[linalg_math::kLogisticStatus * kc + k] == 1.0 ? 1 : 0);
      res.iterations.push_back(static_cast<std::int32_t>(st[linalg_math::kLogisticIters * kc + k]));
      res.scale.push_back(1.0 / inv[k]);
    }
    if (options.keep_weights) {
      Tensor wk = res.weights.models(k0, kc), ik = res.intercept.models(k0, kc);
      ops::scale(wk, w, inv_scale, ctx);
      Tensor ic = f64({kc, 1, out}, ctx);
      ops::gemm(ic, neg_mu.reshape({kc, 1, N}), wk, gemm_opts(false, false), ctx);
      ops::binary(ik, ic.reshape({kc, out}), b, BinaryOp::add, ctx);
    }
  }
  res.train_accuracy = std::move(scores.train);
  res.test_accuracy = std::move(scores.test);
  res.group_accuracy = std::move(scores.groups);
  res.test_log_loss = std::move(scores.log_loss);
  return res;
}

// ---------------------------------------------------------------------------------------------
// Fisher

FisherResult fisher(const ProbeSet& set, int target_class, double ridge, Context& ctx, const ProbeOptions& options) {
  const char* op = "fisher";
  GROOVE_CHECK(ridge >= 0 && std::isfinite(ridge), op, ": ridge must be finite and >= 0, got ", ridge);
  const Prepared pr = prepare(set, op, false, ctx);
  GROOVE_CHECK(target_class >= 0 && target_class < pr.classes, op, ": target_class ", target_class,
               " is out of range [0, ", pr.classes, ")");
  const std::int64_t K = pr.models, P = pr.p, N = pr.n, Q = pr.q;
  FisherResult res;
  res.sets = 1 + pr.groups;
  const std::int64_t S = res.sets;
  const std::size_t total = static_cast<std::size_t>(K * S);
  res.criterion.assign(total, kNaN);
  res.centroid_distance.assign(total, kNaN);
  res.within_variance.assign(total, kNaN);
  res.lambda.assign(total, kNaN);
  res.info.assign(total, 0);
  if (options.keep_weights) {
    res.directions = Tensor::empty({K, S, N}, DType::f64, ctx);
    ops::fill(res.directions, kNaN, ctx);
  }
  std::vector<std::int32_t> target;
  for (std::int64_t p = 0; p < P; ++p) {
    if (pr.labels[p] == target_class) target.push_back(static_cast<std::int32_t>(p));
  }
  const Tensor diff = upload(std::vector<double>{1.0, -1.0}, {1, 2}, ctx);
  const Tensor test = Q > 0 ? set.test_features : Tensor();
  for (std::int64_t s = 0; s < S; ++s) {
    std::vector<std::int32_t> index = target;
    for (std::int64_t p = 0; p < P && s == 0; ++p) {
      if (pr.labels[p] != target_class) index.push_back(static_cast<std::int32_t>(p));
    }
    for (std::int64_t q = 0; q < Q && s > 0; ++q) {
      if (pr.test_groups[q] == s - 1) index.push_back(static_cast<std::int32_t>(P + q));
    }
    const std::int64_t nt = static_cast<std::int64_t>(target.size()), n = static_cast<std::int64_t>(index.size());
    const std::int64_t no = n - nt;
    res.target_count.push_back(nt);
    res.other_count.push_back(no);
    if (nt == 0 || no == 0) continue;
    // Mean weights [2, n] and the set assignment [n, 2].
    std::vector<double> wm(static_cast<std::size_t>(2 * n), 0.0), asg(static_cast<std::size_t>(2 * n), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t set_of = i < nt ? 0 : 1;
      wm[set_of * n + i] = 1.0 / static_cast<double>(set_of == 0 ? nt : no);
      asg[i * 2 + set_of] = 1.0;
    }
    const Tensor index_dev = upload(index, {n}, ctx), wm_dev = upload(wm, {2, n}, ctx),
                 asg_dev = upload(asg, {n, 2}, ctx);
    const bool primal = use_primal(options.form, N, n);
    const std::int64_t sys = primal ? N : n;
    const double per_model = static_cast<double>(n * N + sys * sys + 4 * N + 3 * n);
    const std::int64_t chunk = chunk_models(K, per_model, options);
    for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
      const std::int64_t kc = std::min(chunk, K - k0);
      Tensor d_rows = f64({kc, n, N}, ctx);
      ops::gather_features(d_rows, set.train_features.models(k0, kc), test.defined() ? test.models(k0, kc) : Tensor(),
                           index_dev, ctx);
      Tensor means = f64({kc, 2, N}, ctx), d = f64({kc, 1, N}, ctx);
      ops::gemm(means, wm_dev, d_rows, gemm_opts(false, false), ctx);
      ops::gemm(d_rows, asg_dev, means, gemm_opts(false, false, -1.0, 1.0), ctx);  // center within sets
      ops::gemm(d, diff, means, gemm_opts(false, false), ctx);
      const Tensor d_col = d.reshape({kc, N, 1});
      Tensor a = f64({kc, sys, sys}, ctx), alpha = f64({kc}, ctx), info = Tensor::empty({kc}, DType::i32, ctx);
      ops::gemm(a, d_rows, d_rows, gemm_opts(primal, !primal), ctx);
      ops::regularize_diagonal(a, alpha, ridge, static_cast<double>(N), static_cast<double>(n) * ridge, ctx);
      ops::cholesky_factor(a, info, a, ctx);
      Tensor quad = f64({kc, 1, 1}, ctx), w;
      Tensor v, u;
      if (primal) {
        w = f64({kc, N, 1}, ctx);
        ops::cholesky_substitute(w, a, info, d_col, ctx);  // w / n
        ops::gemm(quad, d, w, gemm_opts(false, false), ctx);
      } else {
        v = f64({kc, n, 1}, ctx);
        u = f64({kc, n, 1}, ctx);
        ops::gemm(v, d_rows, d_col, gemm_opts(false, false), ctx);
        ops::cholesky_substitute(u, a, info, v, ctx);
        ops::gemm(quad, v.reshape({kc, 1, n}), u, gemm_opts(false, false), ctx);
      }
      const std::vector<double> dn = model_norms(d, ctx).to_vector<double>();
      const std::vector<double> rn = model_norms(d_rows, ctx).to_vector<double>();
      const std::vector<double> al = alpha.to_vector<double>(), qv = quad.to_vector<double>();
      const std::vector<std::int32_t> iv = info.to_vector<std::int32_t>();
      const double nd = static_cast<double>(n);
      std::vector<double> w_scale(static_cast<std::size_t>(kc));
      for (std::int64_t k = 0; k < kc; ++k) {
        const std::size_t at = static_cast<std::size_t>((k0 + k) * S + s);
        const double lam = al[k] / nd;
        res.lambda[at] = lam;
        res.info[at] = iv[k];
        res.centroid_distance[at] = dn[k];
        res.within_variance[at] = rn[k] * rn[k] / nd;
        res.criterion[at] = iv[k] != 0 ? kNaN : primal ? nd * qv[k] : (dn[k] * dn[k] - qv[k]) / lam;
        w_scale[k] = primal ? nd : 1.0 / lam;
      }
      if (options.keep_weights) {
        Tensor dir = f64({kc, N, 1}, ctx);
        if (primal) {
          ops::copy(dir, w, ctx);
        } else {
          ops::gemm(dir, d_rows, u, gemm_opts(true, false), ctx);  // D^T u
          ops::binary(dir, d_col, dir, BinaryOp::sub, ctx);        // d - D^T u
        }
        ops::scale(dir, dir, upload(w_scale, {kc}, ctx), ctx);
        for (std::int64_t k = 0; k < kc; ++k) {
          Tensor target_row = res.directions.model(k0 + k).models(s, 1);
          ops::copy(target_row, dir.model(k).reshape({1, N}), ctx);
        }
      }
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// RSM / RSA

Tensor rsm(const ProbeSet& set, Context& ctx, const ProbeOptions& options) {
  const char* op = "rsm";
  const Prepared pr = prepare(set, op, false, ctx);
  const std::int64_t K = pr.models, P = pr.p, N = pr.n, Q = pr.q, C = pr.classes, G = pr.groups;
  const std::int64_t M = C + G;
  // Mean weights: train rows -> classes, held-out rows -> C + group.
  std::vector<double> count(static_cast<std::size_t>(M), 0.0);
  for (std::int64_t p = 0; p < P; ++p) count[pr.labels[p]] += 1.0;
  for (std::int64_t q = 0; q < Q && G > 0; ++q) count[C + pr.test_groups[q]] += 1.0;
  std::vector<double> w_train(static_cast<std::size_t>(M * P), 0.0), w_test(static_cast<std::size_t>(M * Q), 0.0);
  for (std::int64_t p = 0; p < P; ++p) w_train[pr.labels[p] * P + p] = 1.0 / count[pr.labels[p]];
  for (std::int64_t q = 0; q < Q && G > 0; ++q) {
    const std::int64_t m = C + pr.test_groups[q];
    w_test[m * Q + q] = 1.0 / count[m];
  }
  const Tensor w_train_dev = upload(w_train, {M, P}, ctx);
  const Tensor w_test_dev = (Q > 0 && G > 0) ? upload(w_test, {M, Q}, ctx) : Tensor();
  Tensor ones = f64({1, N}, ctx);
  ops::fill(ones, 1.0, ctx);

  Tensor result = Tensor::host({K, M, M}, DType::f64);
  const double per_model = static_cast<double>((P + Q) * N + 2 * M * N + M * M + M);
  const std::int64_t chunk = chunk_models(K, per_model, options);
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    const std::int64_t kc = std::min(chunk, K - k0);
    Tensor means = f64({kc, M, N}, ctx);
    {
      const Tensor x = load(set.train_features, k0, kc, ctx);
      ops::gemm(means, w_train_dev, x, gemm_opts(false, false), ctx);
    }
    if (w_test_dev.defined()) {
      const Tensor xt = load(set.test_features, k0, kc, ctx);
      ops::gemm(means, w_test_dev, xt, gemm_opts(false, false, 1.0, 1.0), ctx);
    }
    Tensor row_mean = f64({kc, M}, ctx), gram = f64({kc, M, M}, ctx);
    ops::reduce(row_mean, means, 2, ReduceOp::mean, ctx);
    ops::gemm(means, row_mean.reshape({kc, M, 1}), ones, gemm_opts(false, false, -1.0, 1.0), ctx);
    ops::gemm(gram, means, means, gemm_opts(false, true), ctx);
    const std::vector<double> g = gram.to_vector<double>();
    for (std::int64_t k = 0; k < kc; ++k) {
      const double* gk = g.data() + k * M * M;
      double* rk = result.data<double>() + (k0 + k) * M * M;
      for (std::int64_t i = 0; i < M; ++i) {
        for (std::int64_t j = 0; j < M; ++j) {
          const bool empty = count[i] == 0 || count[j] == 0;
          double v = empty ? kNaN : gk[i * M + j] / std::sqrt(gk[i * M + i] * gk[j * M + j]);
          if (i == j && std::isfinite(v)) v = 1.0;
          rk[i * M + j] = v;
        }
      }
    }
  }
  return result;
}

std::vector<double> rsa_spearman(const Tensor& rsm_tensor, const Tensor& reference) {
  const char* op = "rsa_spearman";
  GROOVE_CHECK(rsm_tensor.defined(), op, ": tensor 'rsm' is undefined");
  GROOVE_CHECK(rsm_tensor.dtype() == DType::f64 && rsm_tensor.ndim() == 3 && rsm_tensor.dim(1) == rsm_tensor.dim(2), op,
               ": tensor 'rsm' must be f64 [K, M, M], got ", rsm_tensor.str());
  GROOVE_CHECK(reference.defined(), op, ": tensor 'reference' is undefined");
  GROOVE_CHECK(!reference.is_cuda(), op, ": tensor 'reference' must be a host tensor, got ", reference.str());
  GROOVE_CHECK(is_floating(reference.dtype()) && reference.ndim() == 2 && reference.dim(0) == reference.dim(1), op,
               ": tensor 'reference' must be a square f32/f64 [M, M] matrix, got ", reference.str());
  const std::int64_t K = rsm_tensor.dim(0), M = rsm_tensor.dim(1);
  GROOVE_CHECK(reference.dim(0) == M, op, ": tensor 'reference' is ", reference.shape().str(), " but 'rsm' has M = ", M,
               " (", rsm_tensor.str(), ")");
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < M; ++j) {
      const double a = reference.value(i * M + j), b = reference.value(j * M + i);
      GROOVE_CHECK(std::isfinite(a), op, ": tensor 'reference'[", i, ", ", j, "] = ", a, " is not finite");
      GROOVE_CHECK(std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}), op,
                   ": tensor 'reference' is not symmetric: [", i, ", ", j, "] = ", a, " but [", j, ", ", i, "] = ", b);
    }
  }
  std::vector<double> ref_upper;
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = i + 1; j < M; ++j) ref_upper.push_back(reference.value(i * M + j));
  }
  const std::vector<double> ref_rank = average_ranks(ref_upper);
  const std::vector<double> all = rsm_tensor.to_vector<double>();
  std::vector<double> out(static_cast<std::size_t>(K), kNaN);
  if (M < 3) return out;
  for (std::int64_t k = 0; k < K; ++k) {
    std::vector<double> upper;
    bool nan = false;
    for (std::int64_t i = 0; i < M; ++i) {
      for (std::int64_t j = i + 1; j < M; ++j) {
        const double v = 1.0 - all[static_cast<std::size_t>((k * M + i) * M + j)];
        nan = nan || std::isnan(v);
        upper.push_back(v);
      }
    }
    if (!nan) out[k] = pearson(average_ranks(upper), ref_rank);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kernel alignment

std::vector<double> kernel_alignment(const Tensor& features, const Tensor& labels, int classes, Context& ctx,
                                     const ProbeOptions& options) {
  const char* op = "kernel_alignment";
  check_features(features, op, "features", ctx);
  GROOVE_CHECK(classes >= 1, op, ": classes must be >= 1, got ", classes);
  const std::int64_t K = features.dim(0), P = features.dim(1), N = features.dim(2);
  GROOVE_CHECK(P >= 1 && N >= 1, op, ": tensor 'features' has no examples or units: ", features.str());
  const int C = std::max(classes, 2);
  const std::vector<std::int32_t> lab = read_labels(labels, op, "labels", P, C, "classes");
  const std::int64_t out = C == 2 ? 1 : C;
  const Tensor y = upload(targets(lab, C), {P, out}, ctx);
  double yy = 0;  // ||Y Y^T||_F = ||Y^T Y||_F
  if (out == 1) {
    yy = static_cast<double>(P);
  } else {
    std::vector<double> count(static_cast<std::size_t>(C), 0.0);
    for (std::int32_t l : lab) count[l] += 1.0;
    for (double c : count) yy += c * c;
    yy = std::sqrt(yy);
  }
  const bool primal = use_primal(options.form, N, P);
  const std::int64_t sys = primal ? N : P;
  std::vector<double> res;
  const std::int64_t chunk = chunk_models(K, static_cast<double>(P * N + sys * sys + N * out), options);
  for (std::int64_t k0 = 0; k0 < K; k0 += chunk) {
    const std::int64_t kc = std::min(chunk, K - k0);
    const Tensor x = load(features, k0, kc, ctx);
    Tensor hy = f64({kc, N, out}, ctx), gram = f64({kc, sys, sys}, ctx);
    ops::gemm(hy, x, y, gemm_opts(true, false), ctx);
    ops::gemm(gram, x, x, gemm_opts(primal, !primal), ctx);
    const std::vector<double> a = model_norms(hy, ctx).to_vector<double>();
    const std::vector<double> g = model_norms(gram, ctx).to_vector<double>();
    for (std::int64_t k = 0; k < kc; ++k) res.push_back(a[k] * a[k] / (g[k] * yy));
  }
  return res;
}

}  // namespace groove::metrics
