// BioNet: the "biologically plausible" variant of SCIENCE.md as a Model (see docs/models.md):
// input -> wide ReLU layer + dropout -> same-width "associative" layer with a parallel
// Linear->ReLU feedback path added back through a skip connection -> narrower LeakyReLU layer +
// dropout -> readout, with Gaussian noise on the pre-activations. For x [P, D] (shared) or [K, P, D]:
//
//   h1 = dropout_{p1}( relu( W1 x  + b1 + xi1 ) )          [K, P, width]
//   a  = relu( W2 h1 + b2 + xi2 )                          [K, P, width]   associative layer
//   r  = relu( Wf a  + bf )                                [K, P, width]   feedback path
//   h2 = a + r                                             [K, P, width]   skip connection
//   h3 = dropout_{p2}( leaky_relu( W3 h2 + b3 + xi3 ) )    [K, P, narrow]
//   f  = W4 h3 + b4                                        [K, P, output_dim]
//
// xi_l ~ N(0, noise_stddev^2), fresh every step, and the dropout masks exist in training only
// (rng.train == true); in evaluation both are skipped. The "features" tag is the LeakyReLU output
// before its dropout. Standard parameterization: W ~ N(0, s^2 / fan_in), biases zero, with model
// k's init scale s and seed. Parameters, in declaration order: layer0.{weight,bias} (W1),
// layer1.* (W2), feedback.* (Wf), layer2.* (W3), layer3.* (W4: the readout, the last ".weight").
#pragma once

#include <cstdint>

#include "nn/mlp.h"
#include "nn/model.h"

namespace groove::nn {

struct BioNetSpec {
  std::int64_t input_dim = 0;
  std::int64_t width = 500;     // wide ReLU layer and associative layer (and the feedback path)
  std::int64_t narrow = 100;    // LeakyReLU layer
  std::int64_t output_dim = 1;  // 1: scalar readout (logistic / hinge); C for C classes
  double dropout1 = 0.2;        // after the wide ReLU layer, in [0, 1)
  double dropout2 = 0.3;        // after the LeakyReLU layer, in [0, 1)
  double slope = 0.01;          // leaky_relu's negative slope
  double noise_stddev = 0.1;    // Gaussian noise on the three pre-activations (0: off)
  bool bias = true;
};

class BioNet : public Model {
 public:
  // Validates the spec (errors name the field) and draws the initial parameters.
  BioNet(Context& ctx, const BioNetSpec& spec, const EnsembleSpec& ensemble);

  ParamStore& params() override { return params_; }
  const ParamStore& params() const override { return params_; }
  const BioNetSpec& spec() const { return spec_; }

  // Weights W ~ N(0, s_k^2 / fan_in) from Philox (model k's seed, stream 0x1000 + parameter
  // index: the same convention as Mlp), biases zero. Identical on CPU and GPU and for any K.
  void initialize() override;
  // Records the forward pass (equations above) and returns the logits [K, P, output_dim]. Noise
  // streams: rng.stream + 0x100 + l (l = 0, 1, 2 for xi1..xi3); dropout streams: rng.stream +
  // 0x200 + l (l = 0 for p1, l = 2 for p2).
  Var forward(Tape& tape, Var x, const RngRef& rng) const override;

  std::int64_t input_dim() const override { return spec_.input_dim; }
  std::int64_t output_dim() const override { return spec_.output_dim; }
  std::int64_t feature_dim() const override { return spec_.narrow; }
  bool stochastic() const override { return spec_.dropout1 > 0 || spec_.dropout2 > 0 || spec_.noise_stddev > 0; }

 private:
  struct Layer {
    int weight = -1, bias = -1;  // parameter indices (bias -1 without biases)
  };
  Var linear_layer(Tape& tape, Var x, const Layer& layer) const;

  Context* ctx_;
  BioNetSpec spec_;
  EnsembleSpec ensemble_;
  ParamStore params_;
  Layer layer0_, layer1_, feedback_, layer2_, layer3_;
};

}  // namespace groove::nn
