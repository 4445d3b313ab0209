// The MLP builder: an ensemble of K multilayer perceptrons of one shape, with a choice of
// parameterization (see docs/models.md):
//   standard    W ~ N(0, s^2 / fan_in),  y = W x + b
//   ntk         W ~ N(0, s^2),           y = W x / sqrt(fan_in) + b
//   mean_field  hidden layers as ntk; the readout a ~ N(0, s^2) with f = a . h / (gamma_k N), the
//               richness gamma_k per model (small gamma: lazy; gamma = 1: rich).
// Biases start at zero. s is the init scale (per model).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/model.h"

namespace groove::nn {

enum class Parameterization : std::uint8_t { standard, ntk, mean_field };
inline constexpr int kNumParameterizations = 3;
inline constexpr const char* kParameterizationNames[kNumParameterizations] = {"standard", "ntk", "mean_field"};
Parameterization parse_parameterization(const std::string& name);

struct MlpSpec {
  std::int64_t input_dim = 0;
  std::vector<std::int64_t> hidden;  // widths of the hidden layers (empty: a linear model)
  std::int64_t output_dim = 1;       // 1 for binary losses, C for C classes
  Activation activation = Activation::relu;
  double slope = 0.01;  // leaky_relu
  Parameterization parameterization = Parameterization::standard;
  bool bias = true;
  double dropout = 0.0;       // after each hidden activation (needs an RngRef in forward)
  double noise_stddev = 0.0;  // Gaussian noise added to each hidden pre-activation
};

// Per-model settings; a single value applies to every model.
struct EnsembleSpec {
  std::int64_t models = 1;
  std::vector<std::uint64_t> seeds = {0};  // parameter init (and, in the Trainer, the step's randomness)
  std::vector<double> init_scale = {1.0};
  std::vector<double> gamma = {1.0};  // mean-field richness
  DType dtype = DType::f32;
  // Value of model k for a per-model list (size 1 or `models`); throws naming `what` otherwise.
  template <typename V>
  static V at(const std::vector<V>& values, std::int64_t k, std::int64_t models, const char* what);
};

class Mlp : public Model {
 public:
  Mlp(Context& ctx, const MlpSpec& spec, const EnsembleSpec& ensemble);

  ParamStore& params() override { return params_; }
  const ParamStore& params() const override { return params_; }
  const MlpSpec& spec() const { return spec_; }
  std::int64_t layers() const { return static_cast<std::int64_t>(spec_.hidden.size()) + 1; }

  // Re-draws every parameter from the per-model seeds (Philox; identical on CPU and GPU and for
  // any K): weights normal per the parameterization, biases zero.
  void initialize() override;
  // Records the forward pass on `tape` (binding the parameters) and returns the logits. Tags the
  // last hidden layer (after its activation, before dropout; the input for a linear model) as
  // "features" on the tape. With rng.train == false, dropout and noise layers are skipped.
  Var forward(Tape& tape, Var x, const RngRef& rng) const override;

  std::int64_t input_dim() const override { return spec_.input_dim; }
  std::int64_t output_dim() const override { return spec_.output_dim; }
  std::int64_t feature_dim() const override { return spec_.hidden.empty() ? 0 : spec_.hidden.back(); }
  bool stochastic() const override { return spec_.dropout > 0 || spec_.noise_stddev > 0; }

 private:
  Context* ctx_;
  MlpSpec spec_;
  EnsembleSpec ensemble_;
  ParamStore params_;
  Tensor readout_scale_;  // mean-field: 1 / (gamma_k N) per model
};

}  // namespace groove::nn
