// CPU training kernels: the fused optimizer update over the flat parameter buffer, dropout and
// Gaussian noise with per-model Philox streams, minibatch indices, the step counter. The math is
// shared with the CUDA twins (kernels/optim_math.h, kernels/backend.h, runtime/philox.h).
#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

template <typename T>
void optimizer_update(T* params, const T* grads, T* state1, T* state2, T* compensation, std::int64_t,
                      const ops::ParamSegments& segments, const double* lr, const double* weight_decay,
                      const std::int32_t* step, const OptimizerHyper& hyper, Context&) {
  const std::int64_t t = *step;
  const double factor = optim_math::schedule_factor(hyper.schedule, t);
  const optim_math::StepConstants sc = optim_math::step_constants(hyper, t);
  optim_math::with_optimizer_kind(hyper.kind, [&](auto kind) {
    constexpr OptimizerKind K = decltype(kind)::value;
    for (int seg = 0; seg < segments.count; ++seg) {
      for (std::int64_t k = 0; k < segments.models; ++k) {
        const double lr_k = lr[k] * factor, wd_k = weight_decay[k];
        const std::int64_t begin = segments.offset[seg] + k * segments.per_model[seg];
        parallel_chunks(segments.per_model[seg], [=](std::int64_t b, std::int64_t e) {
          // Branch-free loop bodies: the state buffers an optimizer uses are never null (ops.cpp).
          const auto body = [=](std::int64_t i) {
            double s1 = optim_math::uses_state1(K) ? static_cast<double>(state1[i]) : 0.0;
            double s2 = optim_math::uses_state2(K) ? static_cast<double>(state2[i]) : 0.0;
            const double delta = optim_math::update_delta<K>(hyper, sc, static_cast<double>(params[i]),
                                                             static_cast<double>(grads[i]), lr_k, wd_k, s1, s2);
            if constexpr (optim_math::uses_state1(K)) state1[i] = static_cast<T>(s1);
            if constexpr (optim_math::uses_state2(K)) state2[i] = static_cast<T>(s2);
            return delta;
          };
          if (compensation) {
            for (std::int64_t i = begin + b; i < begin + e; ++i)
              params[i] = optim_math::apply_kahan(params[i], body(i), compensation[i]);
          } else {
#pragma omp simd
            for (std::int64_t i = begin + b; i < begin + e; ++i) params[i] = optim_math::apply_plain(params[i], body(i));
          }
        });
      }
    }
  });
}

namespace {
// Calls f(e, seed, i) for every element e = k * per_model + i of every model k, with model k's
// seed: the shape of every per-model draw at a step.
template <typename F>
void for_each_model_element(std::int64_t models, std::int64_t per_model, const std::int32_t* seeds, const F& f) {
  for (std::int64_t k = 0; k < models; ++k) {
    const std::int32_t seed = seeds[k];
    const std::int64_t base = k * per_model;
    parallel_chunks(per_model, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) f(base + i, seed, i);
    });
  }
}
}  // namespace

template <typename T>
void dropout_forward(T* y, T* mask, const T* x, std::int64_t models, std::int64_t per_model, float p,
                     const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context&) {
  const std::int32_t s = *step;
  for_each_model_element(models, per_model, seeds, [=](std::int64_t e, std::int32_t seed, std::int64_t i) {
    const T m = dropout_scale<T>(model_step_block(seed, stream, s, per_model, kBernoulliPerBlock, i), i, p);
    mask[e] = m;
    y[e] = x[e] * m;
  });
}

template <typename T>
void add_gaussian_noise(T* y, const T* x, std::int64_t models, std::int64_t per_model, T stddev,
                        const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context&) {
  const std::int32_t s = *step;
  for_each_model_element(models, per_model, seeds, [=](std::int64_t e, std::int32_t seed, std::int64_t i) {
    const U32x4 w = model_step_block(seed, stream, s, per_model, kNormalPerBlock, i);
    y[e] = x[e] + normal_from_block<T>(w, static_cast<int>(i % kNormalPerBlock), T(0), stddev);
  });
}

void minibatch_indices(std::int32_t* index, std::int64_t models, std::int64_t batch, std::int64_t n_examples,
                       const std::int32_t* seeds, std::uint64_t stream, const std::int32_t* step, Context&) {
  const std::int32_t s = *step;
  for_each_model_element(models, batch, seeds, [=](std::int64_t e, std::int32_t seed, std::int64_t j) {
    index[e] = minibatch_index(seed, stream, s, batch, n_examples, j);
  });
}

void increment_counter(std::int32_t* counter, Context&) {
  ++*counter;
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_TRAIN)

}  // namespace groove::cpu
