// CPU loss kernel: per-example loss, log-loss and logit gradient (kernels/loss_math.h), then per
// model the weighted mean and the log-space mean, each in a fixed sequential order.
#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

template <typename T>
void loss_forward(T* loss, T* log10_loss, T* dlogits, double* per_example, const T* logits, const std::int32_t* labels,
                  const T* targets, const T* weights, const LossShape& s, double inv_weight_sum,
                  const ops::LossSpec& spec, Context&) {
  const std::int64_t n = s.models * s.examples, c = s.classes;
  double* ex_loss = per_example;
  double* ex_log = per_example + n;
  parallel_chunks(
      n,
      [=](std::int64_t begin, std::int64_t end) {
        for (std::int64_t e = begin; e < end; ++e) {
          const std::int64_t k = e / s.examples, p = e % s.examples;
          const std::int32_t label = labels ? labels[k * s.label_model_stride + p] : 0;
          const T* target = targets ? targets + k * s.target_model_stride + p * c : nullptr;
          T* grad = dlogits ? dlogits + e * c : nullptr;
          loss_math::example_loss(spec.kind, spec.margin, logits + e * c, c, label, target, ex_loss[e], ex_log[e],
                                  grad);
          if (grad) {
            const T scale = static_cast<T>((weights ? static_cast<double>(weights[p]) : 1.0) * inv_weight_sum);
            for (std::int64_t j = 0; j < c; ++j) grad[j] *= scale;
          }
        }
      },
      c * 8);
  for (std::int64_t k = 0; k < s.models; ++k) {
    double sum = 0;
    loss_math::LogSumExp lse = loss_math::lse_init();
    for (std::int64_t p = 0; p < s.examples; ++p) {
      const double w = weights ? static_cast<double>(weights[p]) : 1.0;
      sum += w * ex_loss[k * s.examples + p];
      if (w > 0) lse = loss_math::lse_add(lse, log(w) + ex_log[k * s.examples + p]);
    }
    loss[k] = static_cast<T>(sum * inv_weight_sum);
    log10_loss[k] = static_cast<T>((loss_math::lse_value(lse) + log(inv_weight_sum)) * 0.43429448190325182765);
  }
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_LOSS)

}  // namespace groove::cpu
