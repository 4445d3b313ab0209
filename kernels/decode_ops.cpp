// ops::fit_linear_decoders: validation (errors name the tensor) and dispatch to the CPU or CUDA
// kernel (kernels/cpu/decode.cpp, kernels/cuda/decode.cu).
#include "kernels/decode_ops.h"

#include <groove/config.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>

#include "kernels/validate.h"

namespace groove::ops {

using detail::check_exact;
using detail::check_on;

namespace {
constexpr const char* kOp = "fit_linear_decoders";

std::atomic<std::size_t> g_workspace_budget{std::size_t(256) << 20};

static_assert(static_cast<int>(DecoderKind::lda) == decode::kLda &&
                  static_cast<int>(DecoderKind::svm) == decode::kSvm &&
                  static_cast<int>(DecoderKind::logistic) == decode::kLogistic,
              "DecoderKind must match decode::Kind");
}  // namespace

std::size_t set_decoder_workspace_budget(std::size_t bytes) {
  return g_workspace_budget.exchange(bytes);
}

std::int64_t decoder_chunk_models(std::int64_t features, std::int64_t trials) {
  const std::int64_t per = decode::scratch_doubles(features, trials) * static_cast<std::int64_t>(sizeof(double));
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(g_workspace_budget.load()) / per);
}

void fit_linear_decoders(Tensor& weights, Tensor& scores, Tensor& info, const Tensor& x, const Tensor& features,
                         const Tensor& session, const Tensor& train, const Tensor& labels, const DecoderSpec& spec,
                         Context& ctx) {
  check_on(x, kOp, "x", ctx);
  GROOVE_CHECK(x.dtype() == DType::f64 && x.ndim() == 3 && x.dim(2) >= 1, kOp,
               ": tensor 'x' must be f64 [S, T, F] with F >= 1, got ", x.str());
  const std::int64_t S = x.dim(0), T = x.dim(1), F = x.dim(2);
  check_exact(features, kOp, "features", DType::i32, Shape{S}, ctx);
  check_on(session, kOp, "session", ctx);
  GROOVE_CHECK(session.dtype() == DType::i32 && session.ndim() == 1, kOp, ": tensor 'session' must be i32 [K], got ",
               session.str());
  const std::int64_t K = session.dim(0);
  check_exact(train, kOp, "train", DType::f64, Shape{K, T}, ctx);
  check_exact(labels, kOp, "labels", DType::i32, Shape{K, T}, ctx);
  check_exact(weights, kOp, "weights", DType::f64, Shape{K, F + 1}, ctx);
  check_exact(scores, kOp, "scores", DType::f64, Shape{K, T}, ctx);
  check_exact(info, kOp, "info", DType::i32, Shape{K}, ctx);
  const std::pair<const Tensor*, const char*> outputs[] = {{&weights, "weights"}, {&scores, "scores"}, {&info, "info"}};
  const std::pair<const Tensor*, const char*> inputs[] = {
      {&x, "x"}, {&features, "features"}, {&session, "session"}, {&train, "train"}, {&labels, "labels"}};
  for (std::size_t o = 0; o < 3; ++o) {
    for (const auto& [input, input_name] : inputs) {
      GROOVE_CHECK(!outputs[o].first->shares_storage_with(*input), kOp, ": the output '", outputs[o].second,
                   "' must not share memory with the input '", input_name, "'");
    }
    for (std::size_t p = o + 1; p < 3; ++p) {
      GROOVE_CHECK(!outputs[o].first->shares_storage_with(*outputs[p].first), kOp, ": the outputs '", outputs[o].second,
                   "' and '", outputs[p].second, "' must not share memory");
    }
  }
  const int kind = static_cast<int>(spec.kind);
  GROOVE_CHECK(kind >= 0 && kind <= 2, kOp, ": spec.kind must be lda, svm or logistic, got ", kind);
  if (spec.kind == DecoderKind::lda) {
    GROOVE_CHECK(spec.shrinkage >= 0 && spec.shrinkage <= 1, kOp, ": spec.shrinkage must lie in [0, 1], got ",
                 spec.shrinkage);
  } else {
    GROOVE_CHECK(spec.c > 0 && std::isfinite(spec.c), kOp, ": spec.c must be finite and > 0 for ", kDecoderNames[kind],
                 ", got ", spec.c);
    GROOVE_CHECK(spec.max_iter >= 1, kOp, ": spec.max_iter must be >= 1 for ", kDecoderNames[kind], ", got ",
                 spec.max_iter);
    GROOVE_CHECK(spec.tol >= 0 && std::isfinite(spec.tol), kOp, ": spec.tol must be finite and >= 0 for ",
                 kDecoderNames[kind], ", got ", spec.tol);
  }
  if (ctx.is_cpu()) {  // index values are read on the host here; the CUDA kernel reports them as info 4
    const std::int32_t* fs = features.data<std::int32_t>();
    for (std::int64_t s = 0; s < S; ++s) {
      GROOVE_CHECK(fs[s] >= 1 && fs[s] <= F, kOp, ": tensor 'features' holds ", fs[s], " at index ", s,
                   ", expected a value in [1, ", F, "] (F of 'x' ", x.str(), ")");
    }
    const std::int32_t* ss = session.data<std::int32_t>();
    for (std::int64_t k = 0; k < K; ++k) {
      GROOVE_CHECK(ss[k] >= 0 && ss[k] < S, kOp, ": tensor 'session' holds ", ss[k], " at index ", k,
                   ", expected a value in [0, ", S, ") (S of 'x' ", x.str(), ")");
    }
  }
  if (K == 0) return;

  decode::Batch b;
  b.weights = weights.data<double>();
  b.scores = scores.data<double>();
  b.info = info.data<std::int32_t>();
  b.x = x.data<double>();
  b.features = features.data<std::int32_t>();
  b.session = session.data<std::int32_t>();
  b.train = train.data<double>();
  b.labels = labels.data<std::int32_t>();
  b.models = K;
  b.sessions = S;
  b.trials = T;
  b.features_max = F;
  decode::Params p;
  p.kind = kind;
  p.shrinkage = spec.shrinkage;
  p.c = spec.c;
  p.max_iter = spec.max_iter;
  p.tol = spec.tol;
  GROOVE_BACKEND(ctx, fit_linear_decoders)(b, p, ctx);
}

}  // namespace groove::ops
