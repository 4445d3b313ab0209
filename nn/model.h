// Model: the interface every network of an ensemble implements (the MLP of nn/mlp.h, the
// biologically plausible variant of nn/bionet.h). The Trainer only needs a ForwardFn; the metrics
// layer (metrics::Monitor, probes, PGD) needs the parameters, the shapes and the "features" tag.
#pragma once

#include <cstdint>
#include <functional>

#include "nn/functional.h"
#include "nn/params.h"

namespace groove::nn {

// A forward function over bound parameters: (tape, input, randomness) -> logits [K, P, C].
using ForwardFn = std::function<Var(Tape&, Var, const RngRef&)>;

class Model {
 public:
  virtual ~Model() = default;

  virtual ParamStore& params() = 0;
  virtual const ParamStore& params() const = 0;
  // Re-draws every parameter from the per-model seeds (identical on CPU and GPU and for any K).
  virtual void initialize() = 0;
  // Records the forward pass on `tape` and returns the logits [K, P, output_dim]. Tags the hidden
  // representation the statistics watch as "features" ([K, P, feature_dim()]; the input for a
  // model without a hidden layer). With rng.train == false, dropout and noise are skipped.
  virtual Var forward(Tape& tape, Var x, const RngRef& rng) const = 0;

  virtual std::int64_t input_dim() const = 0;
  virtual std::int64_t output_dim() const = 0;
  // Width of the "features" tag; 0 when the model has no hidden layer.
  virtual std::int64_t feature_dim() const = 0;
  // True when the training forward pass is random (dropout, noise): the statistics then use a
  // separate clean forward pass.
  virtual bool stochastic() const = 0;

  ForwardFn forward_fn() const {
    return [this](Tape& tape, Var x, const RngRef& rng) { return forward(tape, x, rng); };
  }
};

}  // namespace groove::nn
