// Optimizer: device hyperparameters, state buffers, the fused update.
#include "nn/optimizer.h"

#include <cmath>

#include "nn/mlp.h"

namespace groove::nn {

namespace {
template <std::size_t N>
int parse_name(const std::string& name, const char* const (&names)[N], const char* what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<int>(i);
  }
  std::string valid;
  for (std::size_t i = 0; i < N; ++i) valid += std::string(i ? ", " : "") + names[i];
  GROOVE_THROW("unknown ", what, " '", name, "': expected one of ", valid);
}

Tensor per_model_vector(const std::vector<double>& values, std::int64_t models, const char* what, Context& ctx) {
  Tensor host = Tensor::host({models}, DType::f64);
  for (std::int64_t k = 0; k < models; ++k) {
    const double v = EnsembleSpec::at(values, k, models, what);
    GROOVE_CHECK(std::isfinite(v) && v >= 0, what, " must be finite and >= 0, got ", v, " for model ", k);
    host.flat<double>(k) = v;
  }
  return host.to(ctx);
}
}  // namespace

OptimizerKind parse_optimizer(const std::string& name) {
  return static_cast<OptimizerKind>(parse_name(name, kOptimizerNames, "optimizer"));
}
Precision parse_precision(const std::string& name) {
  return static_cast<Precision>(parse_name(name, kPrecisionNames, "precision"));
}
ScheduleKind parse_schedule(const std::string& name) {
  return static_cast<ScheduleKind>(parse_name(name, kScheduleNames, "schedule"));
}
DType dtype_for(Precision precision) {
  return precision == Precision::fp64 ? DType::f64 : DType::f32;
}

Optimizer::Optimizer(ParamStore& params, const OptimizerSpec& spec) : params_(&params), spec_(spec) {
  Context& ctx = params.context();
  GROOVE_CHECK(params.dtype() == dtype_for(spec.precision), "optimizer: precision ",
               kPrecisionNames[static_cast<int>(spec.precision)], " trains ", dtype_name(dtype_for(spec.precision)),
               " parameters, but the model's are ", dtype_name(params.dtype()));
  const Schedule& s = spec.hyper.schedule;
  GROOVE_CHECK(s.warmup_steps >= 0, "optimizer: warmup_steps must be >= 0, got ", s.warmup_steps);
  GROOVE_CHECK(s.kind != ScheduleKind::step || s.step_size >= 1, "optimizer: step schedule needs step_size >= 1");
  GROOVE_CHECK(s.kind != ScheduleKind::cosine || s.total_steps > s.warmup_steps,
               "optimizer: cosine schedule needs total_steps > warmup_steps, got ", s.total_steps);
  GROOVE_CHECK(spec.hyper.momentum >= 0 && spec.hyper.momentum < 1, "optimizer: momentum must lie in [0, 1), got ",
               spec.hyper.momentum);
  lr_ = per_model_vector(spec.lr, params.models(), "lr", ctx);
  weight_decay_ = per_model_vector(spec.weight_decay, params.models(), "weight_decay", ctx);
  const Tensor& flat = params.flat_values();
  for (int i = 0; i < optim_math::num_states(spec.hyper.kind); ++i) {
    states_[i] = Tensor::zeros(flat.shape(), flat.dtype(), ctx);
  }
  if (spec.precision == Precision::fp32_kahan) compensation_ = Tensor::zeros(flat.shape(), flat.dtype(), ctx);
}

void Optimizer::update(const Tensor& step) {
  ops::optimizer_update(params_->flat_values(), params_->flat_grads(), states_[0], states_[1], compensation_,
                        params_->segments(), lr_, weight_decay_, step, spec_.hyper, params_->context());
}

}  // namespace groove::nn
