// The autodiff tape: variables, recording, the reverse pass and forward replay.
#include "runtime/tape.h"

#include <cstring>
#include <sstream>

#include "runtime/backend.h"

namespace groove {

std::size_t Tape::check(Var v) const {
  GROOVE_CHECK(v.id >= 0 && static_cast<std::size_t>(v.id) < vars_.size(), "variable ", v.id,
               " does not belong to this tape (", vars_.size(), " variables)");
  return static_cast<std::size_t>(v.id);
}

Var Tape::input(const Tensor& value) {
  GROOVE_CHECK(value.defined(), "Tape::input: undefined tensor");
  GROOVE_CHECK(value.device() == ctx_->device(), "Tape::input: tensor ", value.str(), " is not on ",
               ctx_->device().str());
  vars_.push_back({value, Tensor(), false, false});
  return Var{static_cast<int>(vars_.size() - 1)};
}

Var Tape::parameter(const Tensor& value, const Tensor& grad) {
  GROOVE_CHECK(value.defined() && grad.defined(), "Tape::parameter: undefined value or gradient");
  GROOVE_CHECK(value.shape() == grad.shape() && value.dtype() == grad.dtype(), "Tape::parameter: value ", value.str(),
               " and gradient ", grad.str(), " differ");
  GROOVE_CHECK(value.device() == ctx_->device(), "Tape::parameter: tensor ", value.str(), " is not on ",
               ctx_->device().str());
  vars_.push_back({value, grad, true, true});
  return Var{static_cast<int>(vars_.size() - 1)};
}

Var Tape::new_output(const Tensor& value, const TapeNode& node) {
  bool needs = false;
  if (grad_enabled_) {
    for (int i = 0; i < node.n_inputs; ++i) needs = needs || requires_grad(node.inputs[static_cast<std::size_t>(i)]);
  }
  VarData v;
  v.value = value;
  v.requires_grad = needs;
  if (needs) v.grad = Tensor::empty(value.shape(), value.dtype(), *ctx_);
  vars_.push_back(std::move(v));
  return Var{static_cast<int>(vars_.size() - 1)};
}

void Tape::record(TapeNode node) {
  GROOVE_ASSERT(node.forward && node.backward && node.output >= 0, "node '", node.name, "' is incomplete");
  nodes_.push_back(std::move(node));
  TapeNode& n = nodes_.back();
  n.forward(n, *this);
}

void Tape::forward_replay() {
  for (TapeNode& n : nodes_) n.forward(n, *this);
}

void Tape::backward(Var loss, bool accumulate_parameter_grads) {
  const Tensor& l = value(loss);
  if (!seed_ones_.defined() || seed_ones_.shape() != l.shape() || seed_ones_.dtype() != l.dtype()) {
    // Allocated once per shape: replays reuse it.
    seed_ones_ = Tensor::empty(l.shape(), l.dtype(), *ctx_);
    Tensor host = Tensor::host(l.shape(), l.dtype());
    for (std::int64_t i = 0; i < host.numel(); ++i) {
      if (l.dtype() == DType::f32)
        host.flat<float>(i) = 1.f;
      else
        host.flat<double>(i) = 1.0;
    }
    seed_ones_.copy_from(host, *ctx_);
  }
  backward(loss, seed_ones_, accumulate_parameter_grads);
}

void Tape::backward(Var loss, const Tensor& seed, bool accumulate_parameter_grads) {
  const std::size_t root = check(loss);
  GROOVE_CHECK(vars_[root].requires_grad,
               "backward: the loss does not depend on any parameter (or was made in a "
               "NoGrad scope)");
  GROOVE_CHECK(seed.shape() == vars_[root].value.shape() && seed.dtype() == vars_[root].value.dtype(),
               "backward: seed ", seed.str(), " does not match the loss ", vars_[root].value.str());
  written_.assign(vars_.size(), 0);
  if (accumulate_parameter_grads) {
    for (std::size_t i = 0; i < vars_.size(); ++i) written_[i] = vars_[i].is_parameter;
  }
  // The loss's gradient is the seed itself: alias it instead of copying.
  Tensor loss_grad = vars_[root].grad;
  vars_[root].grad = seed;
  written_[root] = 1;
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    TapeNode& n = *it;
    const auto out = static_cast<std::size_t>(n.output);
    if (!vars_[out].requires_grad || !written_[out]) continue;  // no gradient reaches this node
    bool accumulate[TapeNode::kMaxInputs] = {};
    for (int i = 0; i < n.n_inputs; ++i) {
      const auto in = static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(i)]);
      if (!vars_[in].requires_grad) continue;
      accumulate[i] = written_[in];
      written_[in] = 1;
    }
    n.backward(n, *this, accumulate);
  }
  vars_[root].grad = loss_grad;
  // Parameters no gradient reached get zero, so an optimizer never applies a stale gradient.
  for (std::size_t i = 0; i < vars_.size(); ++i) {
    if (vars_[i].is_parameter && !written_[i]) {
      const Tensor& g = vars_[i].grad;
      if (ctx_->is_cuda()) {
        backend::memset_zero(g.raw(), g.nbytes(), *ctx_);
      } else if (g.nbytes()) {
        std::memset(g.raw(), 0, g.nbytes());
      }
    }
  }
}

std::string Tape::dump() const {
  std::ostringstream os;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const TapeNode& n = nodes_[i];
    os << i << ": v" << n.output << " = " << n.name << "(";
    for (int j = 0; j < n.n_inputs; ++j) os << (j ? ", " : "") << "v" << n.inputs[static_cast<std::size_t>(j)];
    os << ") " << vars_[static_cast<std::size_t>(n.output)].value.str()
       << (vars_[static_cast<std::size_t>(n.output)].requires_grad ? " grad" : "") << "\n";
  }
  return os.str();
}

void Tape::clear() {
  nodes_.clear();
  vars_.clear();
  written_.clear();
  tags_.clear();
}

void Tape::tag(const std::string& name, Var v) {
  check(v);
  for (auto& [n, var] : tags_) {
    if (n == name) {
      var = v;
      return;
    }
  }
  tags_.emplace_back(name, v);
}

Var Tape::tagged(const std::string& name) const {
  for (const auto& [n, var] : tags_) {
    if (n == name) return var;
  }
  return Var{};
}

}  // namespace groove
