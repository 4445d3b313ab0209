// PGD attack: one tape records the forward and loss on x + delta, then replays forward and
// backward for every ascent step (no allocation after the first).
#include "metrics/pgd.h"

#include "kernels/stats_ops.h"

namespace groove::metrics {

Tensor pgd_margins(const nn::Model& model, const Tensor& x, const Tensor& labels, const PgdSpec& spec) {
  Context& ctx = model.params().context();
  GROOVE_CHECK(x.defined() && x.ndim() == 2, "pgd: x must be [Q, D], got ", x.str());
  GROOVE_CHECK(x.dtype() == model.params().dtype(), "pgd: x is ", x.str(), " but the model is ",
               dtype_name(model.params().dtype()));
  GROOVE_CHECK(x.dim(1) == model.input_dim(), "pgd: x has ", x.dim(1), " features, the model takes ",
               model.input_dim());
  GROOVE_CHECK(spec.epsilon >= 0 && spec.steps >= 0 && spec.step_size >= 0,
               "pgd: epsilon, steps and step_size must be >= 0, got ", spec.epsilon, ", ", spec.steps, ", ",
               spec.step_size);
  const std::int64_t k = model.params().models(), q = x.dim(0), d = x.dim(1);
  Tensor margins = Tensor::empty({k, q}, DType::f64, ctx);
  if (q == 0) return margins;
  Tensor xk = Tensor::empty({k, q, d}, x.dtype(), ctx);
  for (std::int64_t m = 0; m < k; ++m) {
    Tensor view = xk.model(m);
    ops::copy(view, x, ctx);
  }
  Tensor delta = Tensor::zeros({k, q, d}, x.dtype(), ctx);
  Tensor x_adv = Tensor::empty({k, q, d}, x.dtype(), ctx);
  Tensor grad = Tensor::zeros({k, q, d}, x.dtype(), ctx);
  ops::copy(x_adv, xk, ctx);

  Tape tape(ctx);
  const Var xv = tape.parameter(x_adv, grad);
  nn::RngRef rng;
  rng.train = false;
  const Var logits = model.forward(tape, xv, rng);
  ops::LossSpec loss;
  loss.kind = model.output_dim() == 1 ? LossKind::logistic : LossKind::softmax_cross_entropy;
  const nn::LossOutput out = nn::loss(tape, logits, loss, labels);
  const double step_size = spec.step_size > 0 ? spec.step_size : 2.5 * spec.epsilon / std::max(1, spec.steps);
  for (int it = 0; it < spec.steps && spec.epsilon > 0; ++it) {
    if (it > 0) {
      ops::binary(x_adv, xk, delta, BinaryOp::add, ctx);
      tape.forward_replay();
    }
    tape.backward(out.loss);
    ops::pgd_step(delta, grad, step_size, spec.epsilon, ctx);
  }
  if (spec.epsilon > 0 && spec.steps > 0) {
    ops::binary(x_adv, xk, delta, BinaryOp::add, ctx);
    tape.forward_replay();
  }
  ops::margins(margins, tape.value(logits), labels, ctx);
  return margins;
}

}  // namespace groove::metrics
