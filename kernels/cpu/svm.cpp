// CPU kernel of ops::svm_dual_solve: SMO with second-order working-set selection, one model per
// OpenMP iteration. Every pass is a sequential fold of the terms of kernels/svm_math.h with its
// combines, the same terms and combines the CUDA twin (kernels/cuda/svm.cu) folds with a block-wide
// tree, so both pick the same working sets whenever their gradients agree.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"
#include "kernels/svm_ops.h"

namespace groove::cpu {

namespace {

// Scratch doubles per model: the gradient, the diagonal, column sums (then distances), the signs.
constexpr std::int64_t kScratchPerExample = 4;

// Solves one model's problem; ws: kScratchPerExample * P doubles.
void solve_model(double* a, double* bias, std::int32_t* info, double* summary, const double* G, const double* y,
                 double* ws, std::int64_t P, const ops::SvmSolveOptions& o) {
  double* grad = ws;
  double* diag = ws + P;
  double* colsum = ws + 2 * P;
  auto* ys = reinterpret_cast<std::int32_t*>(ws + 3 * P);
  // Setup: a = 0, grad = -1 on used examples, the diagonal, the scale and the box.
  for (std::int64_t t = 0; t < P; ++t) {
    ys[t] = svm::label_sign(y[t]);
    colsum[t] = 0.0;
  }
  // Column sums over used rows: colsum[t] = sum_{u used} G_ut, u increasing (the CUDA order).
  for (std::int64_t u = 0; u < P; ++u) {
    if (ys[u] == 0) continue;
    const double* row = G + u * P;
    for (std::int64_t t = 0; t < P; ++t) colsum[t] += row[t];
  }
  svm::ScaleAcc sacc = svm::scale_identity();
  for (std::int64_t t = 0; t < P; ++t) {
    diag[t] = G[t * P + t];
    a[t] = 0.0;
    grad[t] = ys[t] != 0 ? -1.0 : 0.0;
    sacc = svm::scale_combine(sacc, svm::scale_term(ys[t], diag[t], colsum[t]));
  }
  const double s2 = svm::scale_sq(sacc);
  const double C = svm::effective_c(o.c, o.relative_c, s2);
  double* out = summary;
  if (sacc.n_pos == 0 || sacc.n_neg == 0) {
    *bias = svm::qnan();
    info[0] = 0;
    info[1] = svm::kOneClass;
    if (out) {
      for (int c = 0; c < svm::kSummaryColumns; ++c) out[c] = svm::qnan();
      out[svm::kAtBound] = 0;
      out[svm::kScale] = std::sqrt(s2);
    }
    return;
  }

  // SMO.
  std::int64_t iter = 0;
  int status = svm::kMaxIter;
  for (;;) {
    svm::SelectI si = svm::select_i_identity();
    for (std::int64_t t = 0; t < P; ++t)
      si = svm::select_i_combine(si, svm::select_i_term(int(t), ys[t], a[t], grad[t], C));
    svm::SelectJ sj = svm::select_j_identity();
    const svm::Pick pi = si.best;
    if (pi.index >= 0) {
      const double* gi = G + std::int64_t(pi.index) * P;
      const double g_ii = diag[pi.index];
      for (std::int64_t t = 0; t < P; ++t) {
        sj = svm::select_j_combine(sj,
                                   svm::select_j_term(int(t), ys[t], a[t], grad[t], C, pi.value, g_ii, diag[t], gi[t]));
      }
    }
    status = svm::step_status(si, sj, o.tol, o.resolution, s2, iter, o.max_iter);
    if (status != svm::kContinue) break;
    const svm::Pick pj = sj.best;
    const std::int64_t i = pi.index, j = pj.index;
    double ai = pi.alpha, aj = pj.alpha;
    svm::pair_update(pi.y, pj.y, pi.grad, pj.grad, diag[i], diag[j], G[i * P + j], C, ai, aj);
    const double yda_i = pi.y * (ai - pi.alpha), yda_j = pj.y * (aj - pj.alpha);
    a[i] = ai;
    a[j] = aj;
    const double* gi = G + i * P;
    const double* gj = G + j * P;
    for (std::int64_t t = 0; t < P; ++t) {
      if (ys[t] != 0) grad[t] += svm::grad_step(ys[t], gi[t], gj[t], yda_i, yda_j);
    }
    ++iter;
  }

  // Exact gradient: g_t = sum_u a_u y_u G_ut (u increasing, zero a_u skipped), grad_t = y_t g_t - 1.
  std::fill(colsum, colsum + P, 0.0);
  for (std::int64_t u = 0; u < P; ++u) {
    if (a[u] == 0 || ys[u] == 0) continue;
    const double* row = G + u * P;
    for (std::int64_t t = 0; t < P; ++t) colsum[t] += svm::gram_term(a[u], ys[u], row[t]);
  }
  svm::BiasAcc bacc = svm::bias_identity();
  for (std::int64_t t = 0; t < P; ++t) {
    grad[t] = ys[t] != 0 ? ys[t] * colsum[t] - 1.0 : 0.0;
    bacc = svm::bias_combine(bacc, svm::bias_term(ys[t], a[t], grad[t], C));
  }
  const double b = svm::bias_value(bacc);
  *bias = b;
  info[0] = static_cast<std::int32_t>(iter);
  info[1] = status;
  if (!out) return;

  const double w_norm = std::sqrt(std::max(bacc.w_sq, 0.0));
  out[svm::kWNorm] = w_norm;
  out[svm::kAtBound] = bacc.n_at_bound;
  out[svm::kMarginBound] = bacc.sum_alpha > 0 ? w_norm / bacc.sum_alpha : svm::qnan();
  out[svm::kScale] = std::sqrt(s2);
  svm::MarginAcc macc = svm::margin_identity();
  for (std::int64_t t = 0; t < P; ++t) macc = svm::margin_combine(macc, svm::margin_term(ys[t], grad[t], b, w_norm));
  out[svm::kWrong] = macc.n_wrong;
  if (!(w_norm > 0) || !std::isfinite(w_norm) || !std::isfinite(macc.min_distance)) {
    out[svm::kMinDistance] = out[svm::kClosestA] = out[svm::kClosestB] = svm::qnan();
    return;
  }
  out[svm::kMinDistance] = macc.min_distance;
  // The mean of the k smallest distances, for both fractions, by the bitwise search of svm_math.h.
  const std::int64_t n = static_cast<std::int64_t>(sacc.n_pos + sacc.n_neg);
  const std::int64_t ka = svm::closest_count(o.closest_fractions[0], n);
  const std::int64_t kb = svm::closest_count(o.closest_fractions[1], n);
  for (std::int64_t t = 0; t < P; ++t) {  // the distances, kept in colsum
    colsum[t] = ys[t] != 0 ? svm::functional_margin(ys[t], grad[t], b) / w_norm : 0.0;
  }
  std::uint64_t kth_a = 0, kth_b = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const std::uint64_t probe_a = svm::kth_probe(kth_a, bit), probe_b = svm::kth_probe(kth_b, bit);
    svm::KthAcc k = svm::kth_identity();
    for (std::int64_t t = 0; t < P; ++t) {
      if (ys[t] != 0) k = svm::kth_combine(k, svm::kth_count_term(colsum[t], probe_a, probe_b));
    }
    kth_a = svm::kth_step(kth_a, bit, k.count_a, ka);
    kth_b = svm::kth_step(kth_b, bit, k.count_b, kb);
  }
  svm::KthAcc k = svm::kth_identity();
  for (std::int64_t t = 0; t < P; ++t) {
    if (ys[t] != 0) k = svm::kth_combine(k, svm::kth_sum_term(colsum[t], kth_a, kth_b));
  }
  out[svm::kClosestA] = svm::kth_mean(k.sum_a, k.count_a, kth_a, ka);
  out[svm::kClosestB] = svm::kth_mean(k.sum_b, k.count_b, kth_b, kb);
}

}  // namespace

void svm_dual_solve(double* alpha, double* bias, std::int32_t* info, double* summary, const double* gram,
                    const double* y, const SvmShape& s, const ops::SvmSolveOptions& options, Context& ctx) {
  const std::int64_t P = s.examples;
  auto* ws =
      static_cast<double*>(ctx.workspace(static_cast<std::size_t>(kScratchPerExample * s.models * P) * sizeof(double)));
#pragma omp parallel for schedule(dynamic, 1) if (s.models > 1)
  for (std::int64_t k = 0; k < s.models; ++k) {
    solve_model(alpha + k * P, bias + k, info + 2 * k, summary ? summary + k * svm::kSummaryColumns : nullptr,
                gram + k * P * P, y + k * s.y_model_stride, ws + kScratchPerExample * k * P, P, options);
  }
}

}  // namespace groove::cpu
