// Optimizer: one fused kernel updates every parameter of every model (ops::optimizer_update),
// with per-model learning rate and weight decay held on the device, in one of three precision
// modes (see docs/models.md): fp32, fp32-kahan (compensated updates), fp64.
#pragma once

#include <string>
#include <vector>

#include "nn/params.h"

namespace groove::nn {

struct OptimizerSpec {
  OptimizerHyper hyper;
  Precision precision = Precision::fp32;
  std::vector<double> lr = {0.01};           // one value, or one per model
  std::vector<double> weight_decay = {0.0};  // L2 (sgd, momentum, nesterov, adam) or decoupled (adamw)
};

OptimizerKind parse_optimizer(const std::string& name);  // sgd, momentum, nesterov, adam, adamw
Precision parse_precision(const std::string& name);      // fp32, fp32-kahan, fp64
ScheduleKind parse_schedule(const std::string& name);    // constant, step, cosine
// The parameter dtype a precision mode trains in: f64 for fp64, else f32.
DType dtype_for(Precision precision);

class Optimizer {
 public:
  Optimizer(ParamStore& params, const OptimizerSpec& spec);

  // Enqueues one update of every parameter from the current gradients. `step` is the device i32 [1]
  // counter of updates done so far (it drives the schedule and Adam's bias correction).
  void update(const Tensor& step);

  const OptimizerSpec& spec() const { return spec_; }
  const Tensor& lr() const { return lr_; }                      // f64 [K] on the device
  const Tensor& weight_decay() const { return weight_decay_; }  // f64 [K]
  Tensor& state(int i) { return states_[static_cast<std::size_t>(i)]; }
  Tensor& compensation() { return compensation_; }

 private:
  ParamStore* params_;
  OptimizerSpec spec_;
  Tensor lr_, weight_decay_;
  Tensor states_[2];
  Tensor compensation_;
};

}  // namespace groove::nn
