// CPU per-step statistics (the twins of kernels/cuda/stats.cu): margins, class means, distances
// to the class means, parameter norms and the row summary. Sums run sequentially in double per
// model; the per-model math is shared with CUDA in kernels/stats_ops.h (namespace stats).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"
#include "kernels/loss_math.h"
#include "kernels/stats_ops.h"

namespace groove::cpu {

namespace {
// Sum of f(i) for i < n in double, in 8 interleaved partial sums combined in a fixed tree: the
// same order every call (deterministic), and the independent chains vectorize.
template <typename F>
inline double lane_sum(std::int64_t n, const F& f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
#pragma omp simd
    for (int l = 0; l < 8; ++l) acc[l] += f(i + l);
  }
  for (; i < n; ++i) acc[i % 8] += f(i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Three lane_sums in one pass: f(i, x, y, z) sets the three terms of i. Each sum has exactly
// lane_sum's order, so the results are bitwise those of three separate calls.
template <typename F>
inline void lane_sum3(std::int64_t n, const F& f, double& sx, double& sy, double& sz) {
  double ax[8] = {0, 0, 0, 0, 0, 0, 0, 0}, ay[8] = {0, 0, 0, 0, 0, 0, 0, 0}, az[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
#pragma omp simd
    for (int l = 0; l < 8; ++l) {
      double x, y, z;
      f(i + l, x, y, z);
      ax[l] += x;
      ay[l] += y;
      az[l] += z;
    }
  }
  for (; i < n; ++i) {
    double x, y, z;
    f(i, x, y, z);
    ax[i % 8] += x;
    ay[i % 8] += y;
    az[i % 8] += z;
  }
  const auto tree = [](const double* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); };
  sx = tree(ax);
  sy = tree(ay);
  sz = tree(az);
}
}  // namespace

template <typename T>
void margins(double* out, const T* logits, const std::int32_t* labels, std::int64_t models, std::int64_t n,
             std::int64_t classes, Context&) {
  parallel_chunks(
      models * n,
      [=](std::int64_t begin, std::int64_t end) {
        for (std::int64_t e = begin; e < end; ++e) out[e] = stats::margin(logits + e * classes, classes, labels[e % n]);
      },
      classes);
}

template <typename T>
void class_means(T* means, const T* features, const std::int32_t* classes, std::int64_t models, std::int64_t n,
                 std::int64_t dim, std::int64_t n_classes, Context&) {
  std::vector<std::int64_t> count(static_cast<std::size_t>(n_classes), 0);
  for (std::int64_t i = 0; i < n; ++i) ++count[static_cast<std::size_t>(classes[i])];
  const std::int64_t* cnt = count.data();
  parallel_chunks(
      models,
      [=](std::int64_t begin, std::int64_t end) {
        std::vector<double> acc(static_cast<std::size_t>(n_classes * dim));
        for (std::int64_t k = begin; k < end; ++k) {
          std::fill(acc.begin(), acc.end(), 0.0);
          const T* f = features + k * n * dim;
          for (std::int64_t i = 0; i < n; ++i) {
            double* a = acc.data() + classes[i] * dim;
            const T* row = f + i * dim;
#pragma omp simd
            for (std::int64_t j = 0; j < dim; ++j) a[j] += static_cast<double>(row[j]);
          }
          T* m = means + k * n_classes * dim;
          for (std::int64_t c = 0; c < n_classes; ++c) {
            const double inv = cnt[c] > 0 ? 1.0 / static_cast<double>(cnt[c]) : 0.0;
            for (std::int64_t j = 0; j < dim; ++j) m[c * dim + j] = static_cast<T>(acc[c * dim + j] * inv);
          }
        }
      },
      n * dim);
}

// The classes of one example, up to kClassChunk at a time, in one pass over its row (the row
// converted to double once per chunk), each distance summed in lane_sum's order: bitwise the same
// as one lane_sum per class.
template <typename T>
void sq_distances(double* out, const T* features, const T* means, std::int64_t models, std::int64_t n, std::int64_t dim,
                  std::int64_t n_classes, Context&) {
  constexpr std::int64_t kClassChunk = 16;
  parallel_chunks(
      models * n,
      [=](std::int64_t begin, std::int64_t end) {
        for (std::int64_t e = begin; e < end; ++e) {
          const std::int64_t k = e / n;
          const T* h = features + e * dim;
          for (std::int64_t c0 = 0; c0 < n_classes; c0 += kClassChunk) {
            const std::int64_t nc = std::min(kClassChunk, n_classes - c0);
            const T* mu = means + (k * n_classes + c0) * dim;
            double acc[kClassChunk][8] = {};
            std::int64_t j = 0;
            for (; j + 8 <= dim; j += 8) {
              for (std::int64_t c = 0; c < nc; ++c) {
                const T* mc = mu + c * dim + j;
#pragma omp simd
                for (int l = 0; l < 8; ++l) {
                  const double d = static_cast<double>(h[j + l]) - static_cast<double>(mc[l]);
                  acc[c][l] += d * d;
                }
              }
            }
            for (; j < dim; ++j) {
              for (std::int64_t c = 0; c < nc; ++c) {
                const double d = static_cast<double>(h[j]) - static_cast<double>(mu[c * dim + j]);
                acc[c][j % 8] += d * d;
              }
            }
            for (std::int64_t c = 0; c < nc; ++c) {
              const double* a = acc[c];
              out[e * n_classes + c0 + c] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
            }
          }
        }
      },
      dim * n_classes);
}

template <typename T>
void param_norms(double* out, const T* values, const T* initial, const T* grads, const ops::ParamSegments& weights,
                 const ops::ParamSegments& all, Context&) {
  const std::int64_t models = weights.models;
  const int layers = weights.count;
  const std::int64_t width = 3 * layers + 1;
  parallel_chunks(models, [=, &weights, &all](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k) {
      for (int l = 0; l < layers; ++l) {
        const std::int64_t per = weights.per_model[l], base = weights.offset[l] + k * per;
        const T* v = values + base;
        const T* v0 = initial + base;
        double w2, d2, w02;  // one pass over the weights and their initial values
        lane_sum3(
            per,
            [=](std::int64_t i, double& x, double& y, double& z) {
              const double vi = static_cast<double>(v[i]), v0i = static_cast<double>(v0[i]);
              x = vi * vi;
              y = (vi - v0i) * (vi - v0i);
              z = v0i * v0i;
            },
            w2, d2, w02);
        out[k * width + 3 * l] = w2;
        out[k * width + 3 * l + 1] = d2;
        out[k * width + 3 * l + 2] = w02;
      }
      double g2 = grads ? 0.0 : NAN;
      if (grads) {
        for (int s = 0; s < all.count; ++s) {
          const T* g = grads + all.offset[s] + k * all.per_model[s];
          g2 += lane_sum(all.per_model[s], [=](std::int64_t i) { return static_cast<double>(g[i]) * g[i]; });
        }
      }
      out[k * width + 3 * layers] = g2;
    }
  });
}

template <typename T>
void pgd_step(T* delta, const T* grad, std::int64_t n, T step_size, T epsilon, Context&) {
  parallel_chunks(n, [=](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) delta[i] = stats::pgd_update(delta[i], grad[i], step_size, epsilon);
  });
}

void step_summary(const StepSummaryArgs& a, Context&) {
  const std::int64_t p = a.train, q = a.heldout, c = a.classes;
  const int columns = stats::row_columns(a.layers, a.groups);
  const std::int64_t slot = (static_cast<std::int64_t>(a.step[0]) / a.every) % a.ring_rows;
  double* rows = a.rows + slot * a.models * columns;
  float* ring = a.margins_ring ? a.margins_ring + slot * a.models * (p + q) : nullptr;
  const std::int64_t n_groups = a.groups;
  parallel_chunks(a.models, [=, &a](std::int64_t begin, std::int64_t end) {
    std::vector<double> g_sum(static_cast<std::size_t>(n_groups + 1)), g_correct(g_sum.size()), g_ncm(g_sum.size());
    std::vector<std::int64_t> g_count(g_sum.size());
    std::vector<loss_math::LogSumExp> g_lse(g_sum.size());
    for (std::int64_t k = begin; k < end; ++k) {
      double* row = rows + k * columns;
      for (int j = 0; j < columns; ++j) row[j] = NAN;
      row[stats::kStep] = a.step[0];
      row[stats::kTrainLoss] =
          a.loss_f64 ? static_cast<const double*>(a.train_loss)[k] : static_cast<const float*>(a.train_loss)[k];
      row[stats::kTrainLog10Loss] = a.loss_f64 ? static_cast<const double*>(a.train_log10_loss)[k]
                                               : static_cast<const float*>(a.train_log10_loss)[k];
      // Train margins: sum, correct count, sorted for the quantiles.
      const double* m = a.train_margins + k * p;
      double* sorted = a.scratch + k * a.scratch_stride;
      double sum = 0;
      std::int64_t correct = 0, nans = 0;
      for (std::int64_t i = 0; i < p; ++i) {
        sum += m[i];
        correct += m[i] > 0;
        nans += std::isnan(m[i]);
        sorted[i] = m[i];
      }
      row[stats::kTrainAcc] = static_cast<double>(correct) / static_cast<double>(p);
      row[stats::kMarginMean] = sum / static_cast<double>(p);
      if (nans == 0) {  // NaN margins (a diverged model) leave the order statistics NaN
        std::sort(sorted, sorted + p);
        row[stats::kMarginMin] = sorted[0];
        row[stats::kMarginQ01] = stats::quantile_sorted(sorted, p, 0.01);
        row[stats::kMarginQ05] = stats::quantile_sorted(sorted, p, 0.05);
      }
      stats::norm_columns(row, a.norms + k * (3 * a.layers + 1), a.layers);
      // Hidden layer: nearest class mean, within-class variance, centroid distances.
      if (a.train_dist) {
        const double* d = a.train_dist + k * p * c;
        double within = 0;
        std::int64_t ncm = 0;
        for (std::int64_t i = 0; i < p; ++i) {
          within += d[i * c + a.train_classes[i]];
          ncm += stats::argmin(d + i * c, c) == a.train_classes[i];
        }
        row[stats::kTrainNcmAcc] = static_cast<double>(ncm) / static_cast<double>(p);
        row[stats::kWithinVar] = within / static_cast<double>(p);
        double dist = 0;
        std::int64_t pairs = 0;
        for (std::int64_t c1 = 0; c1 < c; ++c1) {
          for (std::int64_t c2 = c1 + 1; c2 < c; ++c2) {
            double s = 0;
            for (std::int64_t j = 0; j < a.features; ++j) {
              const double x1 = a.means_f64 ? static_cast<const double*>(a.means)[(k * c + c1) * a.features + j]
                                            : static_cast<const float*>(a.means)[(k * c + c1) * a.features + j];
              const double x2 = a.means_f64 ? static_cast<const double*>(a.means)[(k * c + c2) * a.features + j]
                                            : static_cast<const float*>(a.means)[(k * c + c2) * a.features + j];
              s += (x1 - x2) * (x1 - x2);
            }
            dist += std::sqrt(s);
            ++pairs;
          }
        }
        row[stats::kCentroidDist] = pairs ? dist / static_cast<double>(pairs) : NAN;
      }
      // Held-out examples: pooled (index n_groups) and per group.
      if (q > 0) {
        std::fill(g_sum.begin(), g_sum.end(), 0.0);
        std::fill(g_correct.begin(), g_correct.end(), 0.0);
        std::fill(g_ncm.begin(), g_ncm.end(), 0.0);
        std::fill(g_count.begin(), g_count.end(), 0);
        std::fill(g_lse.begin(), g_lse.end(), loss_math::lse_init());
        const double* hm = a.heldout_margins + k * q;
        const double* loss = a.heldout_per_example + k * q;
        const double* log_loss = a.heldout_per_example + a.models * q + k * q;
        const double* d = a.heldout_dist ? a.heldout_dist + k * q * c : nullptr;
        for (std::int64_t i = 0; i < q; ++i) {
          const std::int64_t gs[2] = {a.heldout_groups[i], n_groups};
          const double ok = hm[i] > 0, ncm = d && stats::argmin(d + i * c, c) == a.heldout_classes[i];
          for (std::int64_t g : gs) {
            g_sum[g] += loss[i];
            g_correct[g] += ok;
            g_ncm[g] += ncm;
            ++g_count[g];
            g_lse[g] = loss_math::lse_add(g_lse[g], log_loss[i]);
          }
        }
        for (std::int64_t g = 0; g <= n_groups; ++g) {
          const int col = g == n_groups ? static_cast<int>(stats::kHeldoutLoss)
                                        : stats::group_column(a.layers, static_cast<int>(g));
          const double n = static_cast<double>(g_count[g]);
          if (g_count[g] == 0) continue;
          row[col] = g_sum[g] / n;
          row[col + 1] = stats::log10_mean(loss_math::lse_value(g_lse[g]), g_count[g]);
          row[col + 2] = g_correct[g] / n;
          row[col + 3] = d ? g_ncm[g] / n : NAN;
        }
      }
      if (ring) {
        float* r = ring + k * (p + q);
        for (std::int64_t i = 0; i < p; ++i) r[i] = static_cast<float>(m[i]);
        for (std::int64_t i = 0; i < q; ++i) r[p + i] = static_cast<float>(a.heldout_margins[k * q + i]);
      }
    }
  });
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_STATS)

}  // namespace groove::cpu
