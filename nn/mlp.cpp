// The MLP builder: parameters, initialization per parameterization, the forward pass.
#include "nn/mlp.h"

#include <cmath>

namespace groove::nn {

Parameterization parse_parameterization(const std::string& name) {
  for (int i = 0; i < kNumParameterizations; ++i) {
    if (name == kParameterizationNames[i]) return static_cast<Parameterization>(i);
  }
  if (name == "mean-field" || name == "mf") return Parameterization::mean_field;
  GROOVE_THROW("unknown parameterization '", name, "': expected standard, ntk or mean_field");
}

template <typename V>
V EnsembleSpec::at(const std::vector<V>& values, std::int64_t k, std::int64_t models, const char* what) {
  GROOVE_CHECK(values.size() == 1 || static_cast<std::int64_t>(values.size()) == models, what, ": ", values.size(),
               " values for ", models, " models (give 1 or one per model)");
  return values.size() == 1 ? values[0] : values[static_cast<std::size_t>(k)];
}
template std::uint64_t EnsembleSpec::at(const std::vector<std::uint64_t>&, std::int64_t, std::int64_t, const char*);
template double EnsembleSpec::at(const std::vector<double>&, std::int64_t, std::int64_t, const char*);

Mlp::Mlp(Context& ctx, const MlpSpec& spec, const EnsembleSpec& ensemble)
    : ctx_(&ctx), spec_(spec), ensemble_(ensemble), params_(ctx, ensemble.models, ensemble.dtype) {
  GROOVE_CHECK(spec.input_dim >= 1 && spec.output_dim >= 1, "MLP: input_dim and output_dim must be >= 1, got ",
               spec.input_dim, " and ", spec.output_dim);
  for (std::int64_t w : spec.hidden) GROOVE_CHECK(w >= 1, "MLP: hidden widths must be >= 1, got ", w);
  GROOVE_CHECK(spec.dropout >= 0 && spec.dropout < 1, "MLP: dropout must lie in [0, 1), got ", spec.dropout);
  std::int64_t fan_in = spec.input_dim;
  for (std::int64_t l = 0; l < layers(); ++l) {
    const std::int64_t out = l + 1 < layers() ? spec.hidden[static_cast<std::size_t>(l)] : spec.output_dim;
    params_.add("layer" + std::to_string(l) + ".weight", {out, fan_in});
    if (spec.bias) params_.add("layer" + std::to_string(l) + ".bias", {out});
    fan_in = out;
  }
  params_.finalize();
  if (spec.parameterization == Parameterization::mean_field) {
    const std::int64_t n = spec.hidden.empty() ? spec.input_dim : spec.hidden.back();
    Tensor host = Tensor::host({ensemble.models}, ensemble.dtype);
    for (std::int64_t k = 0; k < ensemble.models; ++k) {
      const double gamma = EnsembleSpec::at(ensemble.gamma, k, ensemble.models, "gamma");
      GROOVE_CHECK(gamma > 0, "MLP: mean-field richness gamma must be > 0, got ", gamma, " for model ", k);
      const double s = 1.0 / (gamma * static_cast<double>(n));
      if (ensemble.dtype == DType::f32)
        host.flat<float>(k) = static_cast<float>(s);
      else
        host.flat<double>(k) = s;
    }
    readout_scale_ = host.to(ctx);
  }
  initialize();
}

void Mlp::initialize() {
  const std::int64_t k_models = ensemble_.models;
  std::int64_t fan_in = spec_.input_dim;
  int p = 0;
  for (std::int64_t l = 0; l < layers(); ++l) {
    Tensor w = params_.value(p);
    const std::int64_t out = w.dim(1);
    const bool scaled_forward = spec_.parameterization != Parameterization::standard;
    for (std::int64_t k = 0; k < k_models; ++k) {
      const double s = EnsembleSpec::at(ensemble_.init_scale, k, k_models, "init_scale");
      const std::uint64_t seed = EnsembleSpec::at(ensemble_.seeds, k, k_models, "seeds");
      const double stddev = scaled_forward ? s : s / std::sqrt(static_cast<double>(fan_in));
      Tensor wk = w.model(k);
      // Stream = parameter index: each parameter of a model draws from its own stream.
      ops::random_normal(wk, RngKey{seed, 0x1000u + static_cast<std::uint64_t>(p), 0}, 0.0, stddev, *ctx_);
    }
    ++p;
    if (spec_.bias) {
      Tensor b = params_.value(p++);
      ops::fill(b, 0.0, *ctx_);
    }
    fan_in = out;
  }
}

Var Mlp::forward(Tape& tape, Var x, const RngRef& rng) const {
  Var h = x;
  if (layers() == 1) tape.tag("features", x);  // a linear model: its features are its inputs
  std::int64_t fan_in = spec_.input_dim;
  int p = 0;
  for (std::int64_t l = 0; l < layers(); ++l) {
    const Var w = params_.bind(tape, p++);
    const Var b = spec_.bias ? params_.bind(tape, p++) : Var{};
    const bool readout = l + 1 == layers();
    const bool mf_readout = readout && spec_.parameterization == Parameterization::mean_field;
    const double scale = spec_.parameterization == Parameterization::standard || mf_readout
                             ? 1.0
                             : 1.0 / std::sqrt(static_cast<double>(fan_in));
    const Tensor per_model = mf_readout ? readout_scale_ : Tensor();
    const bool noise = !readout && spec_.noise_stddev > 0 && rng.train;
    // A hidden layer is one fused dense node (GEMM, then bias + activation in one pass; phi' from
    // its output) unless noise goes between the product and the activation, or phi' cannot be
    // read off the output exactly (tanh, sigmoid, gelu, quadratic).
    const bool fused = !readout && !noise && math::activation_derivative_from_output_exact(spec_.activation, spec_.slope);
    if (fused) {
      h = dense(tape, h, w, b, spec_.activation, spec_.slope, scale, per_model);
    } else {
      h = linear(tape, h, w, b, scale, per_model);
    }
    if (!readout) {
      if (noise) {
        RngRef r = rng;
        r.stream = rng.stream + 0x100u + static_cast<std::uint64_t>(l);
        h = gaussian_noise(tape, h, spec_.noise_stddev, r);
      }
      if (!fused) h = activation(tape, h, spec_.activation, spec_.slope);
      if (l + 2 == layers()) tape.tag("features", h);  // the last hidden layer, before dropout
      if (spec_.dropout > 0 && rng.train) {
        RngRef r = rng;
        r.stream = rng.stream + 0x200u + static_cast<std::uint64_t>(l);
        h = dropout(tape, h, spec_.dropout, r);
      }
    }
    fan_in = tape.value(w).dim(1);
  }
  return h;
}

}  // namespace groove::nn
