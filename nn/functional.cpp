// Differentiable ops: for each, the recording function, then its forward and backward side by
// side. Backward functions receive one `accumulate` flag per input: overwrite the input's
// gradient when false, add to it when true (tape.h).
#include "nn/functional.h"

#include <algorithm>

namespace groove::nn {

namespace {
TapeNode make_node(OpKind kind, TapeNode::ForwardFn fwd, TapeNode::BackwardFn bwd, std::initializer_list<Var> in) {
  TapeNode n;
  n.kind = static_cast<int>(kind);
  n.name = kOpNames[static_cast<int>(kind)];
  n.forward = fwd;
  n.backward = bwd;
  for (Var v : in) n.inputs[static_cast<std::size_t>(n.n_inputs++)] = v.id;
  return n;
}

int in(const TapeNode& n, int i) {
  return n.inputs[static_cast<std::size_t>(i)];
}

// Gives the node an output of `shape` and `dtype`, records it (running its forward) and returns
// the output variable.
Var record_node(Tape& tape, TapeNode n, const Shape& shape, DType dtype) {
  n.output = tape.new_output(Tensor::empty(shape, dtype, tape.context()), n).id;
  const int out = n.output;
  tape.record(std::move(n));
  return Var{out};
}

// dst = src, or dst += src.
void write_grad(Tensor dst, const Tensor& src, bool accumulate, Context& ctx) {
  if (accumulate) {
    ops::axpy(dst, src, 1.0, ctx);
  } else {
    ops::copy(dst, src, ctx);
  }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// linear: y = s * x @ w^T + b, and dense: y = phi(s * x @ w^T + b) (the same node functions).
// aux: [0] per-model scale or undefined, [1] ones [1, P] (linear's bias gradient as a GEMM),
// [2] scratch dy * s (per-model scale only).   real[0]: scalar scale; real[1]: dense's slope;
// ints[0]: dense's Activation. dense's backward overwrites its output's gradient with dz, the
// gradient of the pre-activation (after backward(), tape.grad of a dense output holds dz).

namespace {
void linear_forward(TapeNode& n, Tape& t) {
  Context& ctx = t.context();
  Tensor y = t.value(n.output);
  ops::GemmOptions o;
  o.trans_b = true;
  o.alpha = n.real[0];
  ops::gemm(y, t.value(in(n, 0)), t.value(in(n, 1)), o, ctx);
  if (n.aux[0].defined()) ops::scale(y, y, n.aux[0], ctx);
  if (n.kind == static_cast<int>(OpKind::dense)) {  // y = phi(y + b) in one pass
    ops::bias_activation(y, in(n, 2) >= 0 ? t.value(in(n, 2)) : Tensor(), static_cast<Activation>(n.ints[0]), ctx,
                         n.real[1]);
  } else if (in(n, 2) >= 0) {
    ops::bias_add(y, y, t.value(in(n, 2)), ctx);
  }
}

void linear_backward(TapeNode& n, Tape& t, const bool* accumulate) {
  Context& ctx = t.context();
  Tensor dy = t.grad(n.output);  // [K, P, N]
  const bool has_bias = in(n, 2) >= 0 && t.requires_grad(in(n, 2));
  bool bias_done = false;
  if (n.kind == static_cast<int>(OpKind::dense)) {
    // dz = dy * phi'(z) written over dy (the output's gradient has no other reader once this node
    // runs: no [K, P, N] buffer for dz), and db, in one pass.
    Tensor db = has_bias ? t.grad(in(n, 2)) : Tensor();
    ops::activation_backward_from_output(dy, db, dy, t.value(n.output), static_cast<Activation>(n.ints[0]), false,
                                         has_bias && accumulate[2], ctx, n.real[1]);
    bias_done = true;
  }
  Tensor g = dy;
  if (n.aux[0].defined()) {  // g = dy * s_k: the scale sits before the bias
    g = n.aux[2];
    ops::scale(g, dy, n.aux[0], ctx);
  }
  const double alpha = n.real[0];
  if (t.requires_grad(in(n, 0))) {  // dx = s g @ w
    ops::GemmOptions o;
    o.alpha = alpha;
    o.beta = accumulate[0] ? 1.0 : 0.0;
    Tensor dx = t.grad(in(n, 0));
    ops::gemm(dx, g, t.value(in(n, 1)), o, ctx);
  }
  if (t.requires_grad(in(n, 1))) {  // dw = s g^T @ x
    ops::GemmOptions o;
    o.trans_a = true;
    o.alpha = alpha;
    o.beta = accumulate[1] ? 1.0 : 0.0;
    Tensor dw = t.grad(in(n, 1));
    ops::gemm(dw, g, t.value(in(n, 0)), o, ctx);
  }
  if (has_bias && !bias_done) {  // db = ones @ dy (sum over examples)
    ops::GemmOptions o;
    o.beta = accumulate[2] ? 1.0 : 0.0;
    const Tensor& db = t.grad(in(n, 2));
    Tensor db3 = db.reshape({db.dim(0), 1, db.dim(1)});
    ops::gemm(db3, n.aux[1], dy, o, ctx);
  }
}
}  // namespace

namespace {
Var record_linear(Tape& tape, OpKind kind, Var x, Var w, Var b, double scale, const Tensor& scale_per_model,
                  Activation act, double slope) {
  Context& ctx = tape.context();
  const char* name = kOpNames[static_cast<int>(kind)];
  const Tensor& xv = tape.value(x);
  const Tensor& wv = tape.value(w);
  GROOVE_CHECK(wv.ndim() == 3, name, ": weight must be [K, N, D], got ", wv.str());
  GROOVE_CHECK(xv.ndim() == 2 || xv.ndim() == 3, name, ": input must be [K, P, D] or shared [P, D], got ", xv.str());
  GROOVE_CHECK(xv.dim(-1) == wv.dim(2), name, ": input ", xv.str(), " has ", xv.dim(-1), " features but the weight ",
               wv.str(), " expects ", wv.dim(2));
  GROOVE_CHECK(xv.ndim() == 2 || xv.dim(0) == wv.dim(0), name, ": input ", xv.str(), " and weight ", wv.str(),
               " have different model counts");
  GROOVE_CHECK(!(xv.ndim() == 2 && tape.requires_grad(x)), name, ": a shared [P, D] input cannot require a gradient");
  const std::int64_t k = wv.dim(0), p = xv.dim(-2), nout = wv.dim(1);
  if (b.defined()) {
    check_shape(tape.value(b), (std::string(name) + ": bias").c_str(), {k, nout});
  }
  if (scale_per_model.defined()) {
    check_shape(scale_per_model, (std::string(name) + ": scale_per_model").c_str(), {k});
    GROOVE_CHECK(scale_per_model.dtype() == wv.dtype(), name, ": scale_per_model ", scale_per_model.str(),
                 " must have the weight's dtype");
  }
  const bool dense = kind == OpKind::dense;
  if (dense) {
    GROOVE_CHECK(math::activation_derivative_from_output_exact(act, slope), "dense: the derivative of ",
                 ops::activation_name(act), act == Activation::leaky_relu ? " with slope <= 0" : "",
                 " cannot be taken from its output; use linear followed by activation");
  }
  TapeNode n = make_node(kind, linear_forward, linear_backward, {x, w, b});
  if (!b.defined()) n.inputs[2] = -1;
  n.n_inputs = b.defined() ? 3 : 2;
  n.real[0] = scale;
  n.real[1] = slope;
  n.ints[0] = static_cast<std::int64_t>(act);
  n.aux.resize(3);
  n.aux[0] = scale_per_model;
  Tensor y = Tensor::empty({k, p, nout}, wv.dtype(), ctx);
  n.output = tape.new_output(y, n).id;
  if (tape.requires_grad(Var{n.output})) {
    if (b.defined() && !dense) {
      n.aux[1] = Tensor::empty({1, p}, wv.dtype(), ctx);
      ops::fill(n.aux[1], 1.0, ctx);
    }
    if (scale_per_model.defined()) n.aux[2] = Tensor::empty(y.shape(), y.dtype(), ctx);
  }
  const int out = n.output;
  tape.record(std::move(n));
  return Var{out};
}
}  // namespace

Var linear(Tape& tape, Var x, Var w, Var b, double scale, const Tensor& scale_per_model) {
  return record_linear(tape, OpKind::linear, x, w, b, scale, scale_per_model, Activation::identity, 0.0);
}

Var dense(Tape& tape, Var x, Var w, Var b, Activation act, double slope, double scale,
          const Tensor& scale_per_model) {
  return record_linear(tape, OpKind::dense, x, w, b, scale, scale_per_model, act, slope);
}

// ---------------------------------------------------------------------------------------------
// activation: y = phi(x).   ints[0]: Activation; real[0]: slope.

namespace {
void activation_fwd(TapeNode& n, Tape& t) {
  Tensor y = t.value(n.output);
  ops::activation_forward(y, t.value(in(n, 0)), static_cast<Activation>(n.ints[0]), t.context(), n.real[0]);
}
void activation_bwd(TapeNode& n, Tape& t, const bool* accumulate) {
  Tensor dx = t.grad(in(n, 0));
  ops::activation_backward(dx, t.grad(n.output), t.value(in(n, 0)), static_cast<Activation>(n.ints[0]), accumulate[0],
                           t.context(), n.real[0]);
}
}  // namespace

Var activation(Tape& tape, Var x, Activation act, double slope) {
  const Tensor& xv = tape.value(x);
  TapeNode n = make_node(OpKind::activation, activation_fwd, activation_bwd, {x});
  n.ints[0] = static_cast<std::int64_t>(act);
  n.real[0] = slope;
  return record_node(tape, std::move(n), xv.shape(), xv.dtype());
}

// ---------------------------------------------------------------------------------------------
// add: y = a + b.

namespace {
void add_fwd(TapeNode& n, Tape& t) {
  Tensor y = t.value(n.output);
  ops::binary(y, t.value(in(n, 0)), t.value(in(n, 1)), BinaryOp::add, t.context());
}
void add_bwd(TapeNode& n, Tape& t, const bool* accumulate) {
  for (int i = 0; i < 2; ++i) {
    if (t.requires_grad(in(n, i))) write_grad(t.grad(in(n, i)), t.grad(n.output), accumulate[i], t.context());
  }
}
}  // namespace

Var add(Tape& tape, Var a, Var b) {
  const Tensor& av = tape.value(a);
  GROOVE_CHECK(av.shape() == tape.value(b).shape() && av.dtype() == tape.value(b).dtype(), "add: operands ", av.str(),
               " and ", tape.value(b).str(), " differ");
  TapeNode n = make_node(OpKind::add, add_fwd, add_bwd, {a, b});
  return record_node(tape, std::move(n), av.shape(), av.dtype());
}

// ---------------------------------------------------------------------------------------------
// dropout.   aux: [0] seeds, [1] step, [2] mask, [3] scratch for accumulation.   real[0]: p;
// ints[0]: stream.

namespace {
void dropout_fwd(TapeNode& n, Tape& t) {
  Tensor y = t.value(n.output);
  ops::dropout_forward(y, n.aux[2], t.value(in(n, 0)), n.real[0], n.aux[0], static_cast<std::uint64_t>(n.ints[0]),
                       n.aux[1], t.context());
}
void dropout_bwd(TapeNode& n, Tape& t, const bool* accumulate) {
  Context& ctx = t.context();
  if (accumulate[0]) {
    ops::binary(n.aux[3], t.grad(n.output), n.aux[2], BinaryOp::mul, ctx);
    Tensor dx = t.grad(in(n, 0));
    ops::axpy(dx, n.aux[3], 1.0, ctx);
  } else {
    Tensor dx = t.grad(in(n, 0));
    ops::binary(dx, t.grad(n.output), n.aux[2], BinaryOp::mul, ctx);
  }
}
}  // namespace

Var dropout(Tape& tape, Var x, double p, const RngRef& rng) {
  const Tensor& xv = tape.value(x);
  GROOVE_CHECK(p >= 0 && p < 1, "dropout: p must lie in [0, 1), got ", p);
  TapeNode n = make_node(OpKind::dropout, dropout_fwd, dropout_bwd, {x});
  n.real[0] = p;
  n.ints[0] = static_cast<std::int64_t>(rng.stream);
  n.aux = {rng.seeds, rng.step, Tensor::empty(xv.shape(), xv.dtype(), tape.context()),
           Tensor::empty(xv.shape(), xv.dtype(), tape.context())};
  return record_node(tape, std::move(n), xv.shape(), xv.dtype());
}

// ---------------------------------------------------------------------------------------------
// gaussian_noise.   aux: [0] seeds, [1] step.   real[0]: stddev; ints[0]: stream.

namespace {
void noise_fwd(TapeNode& n, Tape& t) {
  Tensor y = t.value(n.output);
  ops::add_gaussian_noise(y, t.value(in(n, 0)), n.real[0], n.aux[0], static_cast<std::uint64_t>(n.ints[0]), n.aux[1],
                          t.context());
}
void noise_bwd(TapeNode& n, Tape& t, const bool* accumulate) {
  write_grad(t.grad(in(n, 0)), t.grad(n.output), accumulate[0], t.context());
}
}  // namespace

Var gaussian_noise(Tape& tape, Var x, double stddev, const RngRef& rng) {
  const Tensor& xv = tape.value(x);
  GROOVE_CHECK(stddev >= 0, "gaussian_noise: stddev must be >= 0, got ", stddev);
  TapeNode n = make_node(OpKind::gaussian_noise, noise_fwd, noise_bwd, {x});
  n.real[0] = stddev;
  n.ints[0] = static_cast<std::int64_t>(rng.stream);
  n.aux = {rng.seeds, rng.step};
  return record_node(tape, std::move(n), xv.shape(), xv.dtype());
}

// ---------------------------------------------------------------------------------------------
// loss.   aux: [0] labels, [1] targets, [2] weights, [3] log10 loss, [4] per-example scratch,
// [5] saved dlogits (gradient of each model's mean loss).   ints[0]: LossKind; real[0]: margin;
// real[1]: sum of weights.

namespace {
void loss_fwd(TapeNode& n, Tape& t) {
  Tensor loss = t.value(n.output);
  ops::LossSpec spec;
  spec.kind = static_cast<LossKind>(n.ints[0]);
  spec.margin = n.real[0];
  ops::loss_forward(loss, n.aux[3], n.aux[5], n.aux[4], t.value(in(n, 0)), n.aux[0], n.aux[1], n.aux[2], n.real[1],
                    spec, t.context());
}
void loss_bwd(TapeNode& n, Tape& t, const bool* accumulate) {
  // dlogits = upstream[k] * saved[k] (the upstream gradient is per model).
  Tensor dx = t.grad(in(n, 0));
  if (accumulate[0]) {
    ops::axpy(dx, n.aux[5], t.grad(n.output), t.context());
  } else {
    ops::scale(dx, n.aux[5], t.grad(n.output), t.context());
  }
}
}  // namespace

LossOutput loss(Tape& tape, Var logits, const ops::LossSpec& spec, const Tensor& labels, const Tensor& targets,
                const Tensor& weights) {
  Context& ctx = tape.context();
  const Tensor& lv = tape.value(logits);
  GROOVE_CHECK(lv.ndim() == 3, "loss: logits must be [K, P, C], got ", lv.str());
  const std::int64_t k = lv.dim(0), p = lv.dim(1);
  double weight_sum = static_cast<double>(p);
  if (weights.defined()) {
    const Tensor host = weights.to_host();
    weight_sum = 0;
    for (std::int64_t i = 0; i < host.numel(); ++i) {
      const double w = host.dtype() == DType::f32 ? host.flat<float>(i) : host.flat<double>(i);
      GROOVE_CHECK(w >= 0 && std::isfinite(w), "loss: example weight ", i, " is ", w,
                   "; weights must be finite and >= 0");
      weight_sum += w;
    }
  }
  TapeNode n = make_node(OpKind::loss, loss_fwd, loss_bwd, {logits});
  n.ints[0] = static_cast<std::int64_t>(spec.kind);
  n.real[0] = spec.margin;
  n.real[1] = weight_sum;
  n.aux = {labels,  targets, weights, Tensor::empty({k}, lv.dtype(), ctx), Tensor::empty({2, k, p}, DType::f64, ctx),
           Tensor()};
  n.output = tape.new_output(Tensor::empty({k}, lv.dtype(), ctx), n).id;
  if (tape.requires_grad(Var{n.output})) n.aux[5] = Tensor::empty(lv.shape(), lv.dtype(), ctx);
  LossOutput out{Var{n.output}, tape.value(Var{n.output}), n.aux[3], n.aux[4]};
  tape.record(std::move(n));
  return out;
}

LossKind parse_loss(const std::string& name) {
  for (int i = 0; i < kNumLossKinds; ++i) {
    if (name == kLossNames[i]) return static_cast<LossKind>(i);
  }
  if (name == "cross-entropy" || name == "ce") return LossKind::softmax_cross_entropy;
  if (name == "squared-error" || name == "mse") return LossKind::squared_error;
  GROOVE_THROW("unknown loss '", name, "': expected cross_entropy, logistic, hinge or squared_error");
}

}  // namespace groove::nn
