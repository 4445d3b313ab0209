// BioNet: parameters, initialization and the forward pass of the "biologically plausible" variant.
#include "nn/bionet.h"

#include <cmath>
#include <string>

namespace groove::nn {

namespace {
// Checks every field (the error names it) before anything is allocated.
const BioNetSpec& validated(const BioNetSpec& spec, const EnsembleSpec& ensemble) {
  GROOVE_CHECK(spec.input_dim >= 1, "bionet: input_dim must be >= 1, got ", spec.input_dim);
  GROOVE_CHECK(spec.width >= 1, "bionet: width must be >= 1, got ", spec.width);
  GROOVE_CHECK(spec.narrow >= 1, "bionet: narrow must be >= 1, got ", spec.narrow);
  GROOVE_CHECK(spec.output_dim >= 1, "bionet: output_dim must be >= 1, got ", spec.output_dim);
  GROOVE_CHECK(spec.dropout1 >= 0 && spec.dropout1 < 1, "bionet: dropout1 must lie in [0, 1), got ", spec.dropout1);
  GROOVE_CHECK(spec.dropout2 >= 0 && spec.dropout2 < 1, "bionet: dropout2 must lie in [0, 1), got ", spec.dropout2);
  GROOVE_CHECK(std::isfinite(spec.slope), "bionet: slope must be finite, got ", spec.slope);
  GROOVE_CHECK(std::isfinite(spec.noise_stddev) && spec.noise_stddev >= 0,
               "bionet: noise_stddev must be finite and >= 0, got ", spec.noise_stddev);
  GROOVE_CHECK(ensemble.models >= 1, "bionet: models must be >= 1, got ", ensemble.models);
  return spec;
}
}  // namespace

BioNet::BioNet(Context& ctx, const BioNetSpec& spec, const EnsembleSpec& ensemble)
    : ctx_(&ctx), spec_(validated(spec, ensemble)), ensemble_(ensemble), params_(ctx, ensemble.models, ensemble.dtype) {
  auto declare = [&](const std::string& name, std::int64_t out, std::int64_t in) {
    Layer l;
    l.weight = params_.add(name + ".weight", {out, in});
    if (spec.bias) l.bias = params_.add(name + ".bias", {out});
    return l;
  };
  // The readout must be the last ".weight" declared (the Monitor's readout norm uses it).
  layer0_ = declare("layer0", spec.width, spec.input_dim);
  layer1_ = declare("layer1", spec.width, spec.width);
  feedback_ = declare("feedback", spec.width, spec.width);
  layer2_ = declare("layer2", spec.narrow, spec.width);
  layer3_ = declare("layer3", spec.output_dim, spec.narrow);
  params_.finalize();
  initialize();
}

void BioNet::initialize() {
  const std::int64_t k_models = ensemble_.models;
  for (const Layer* layer : {&layer0_, &layer1_, &feedback_, &layer2_, &layer3_}) {
    Tensor w = params_.value(layer->weight);
    const double fan_in = static_cast<double>(w.dim(2));
    for (std::int64_t k = 0; k < k_models; ++k) {
      const double s = EnsembleSpec::at(ensemble_.init_scale, k, k_models, "init_scale");
      const std::uint64_t seed = EnsembleSpec::at(ensemble_.seeds, k, k_models, "seeds");
      Tensor wk = w.model(k);
      // Stream = parameter index (as Mlp): each parameter of a model draws from its own stream.
      ops::random_normal(wk, RngKey{seed, 0x1000u + static_cast<std::uint64_t>(layer->weight), 0}, 0.0,
                         s / std::sqrt(fan_in), *ctx_);
    }
    if (layer->bias >= 0) {
      Tensor b = params_.value(layer->bias);
      ops::fill(b, 0.0, *ctx_);
    }
  }
}

Var BioNet::linear_layer(Tape& tape, Var x, const Layer& layer) const {
  const Var w = params_.bind(tape, layer.weight);
  const Var b = layer.bias >= 0 ? params_.bind(tape, layer.bias) : Var{};
  return linear(tape, x, w, b);
}

Var BioNet::forward(Tape& tape, Var x, const RngRef& rng) const {
  const bool noisy = spec_.noise_stddev > 0 && rng.train;
  auto noise = [&](Var z, std::uint64_t l) {
    if (!noisy) return z;
    RngRef r = rng;
    r.stream = rng.stream + 0x100u + l;
    return gaussian_noise(tape, z, spec_.noise_stddev, r);
  };
  auto drop = [&](Var z, double p, std::uint64_t l) {
    if (!(p > 0 && rng.train)) return z;
    RngRef r = rng;
    r.stream = rng.stream + 0x200u + l;
    return dropout(tape, z, p, r);
  };
  // Wide ReLU layer.
  Var h1 = activation(tape, noise(linear_layer(tape, x, layer0_), 0), Activation::relu);
  h1 = drop(h1, spec_.dropout1, 0);
  // Associative layer, its parallel Linear->ReLU feedback path, and the skip connection.
  const Var a = activation(tape, noise(linear_layer(tape, h1, layer1_), 1), Activation::relu);
  const Var r = activation(tape, linear_layer(tape, a, feedback_), Activation::relu);
  const Var h2 = add(tape, a, r);
  // Narrow LeakyReLU layer.
  Var h3 = activation(tape, noise(linear_layer(tape, h2, layer2_), 2), Activation::leaky_relu, spec_.slope);
  tape.tag("features", h3);  // before dropout
  h3 = drop(h3, spec_.dropout2, 2);
  return linear_layer(tape, h3, layer3_);
}

}  // namespace groove::nn
