// Trainer: record once, replay (CPU plan or CUDA graph), minibatches on the device.
#include "nn/trainer.h"

#include <limits>

namespace groove::nn {

namespace {
constexpr std::uint64_t kMinibatchStream = 0x6d62;  // "mb"
constexpr std::uint64_t kLayerStreams = 0x10000;    // dropout / noise streams start here
}  // namespace

Trainer::Trainer(ParamStore& params, ForwardFn forward, Optimizer& optimizer, const TrainData& data,
                 const TrainerSpec& spec)
    : ctx_(&params.context()),
      params_(&params),
      forward_(std::move(forward)),
      optimizer_(&optimizer),
      data_(data),
      spec_(spec),
      tape_(params.context()) {
  Context& ctx = *ctx_;
  const std::int64_t k = params.models();
  GROOVE_CHECK(data.x.defined() && data.x.ndim() == 2, "trainer: data x must be [P, D], got ", data.x.str());
  check_same_device(data.x, "x", ctx);
  GROOVE_CHECK(data.x.dtype() == params.dtype(), "trainer: data x is ", data.x.str(), " but the parameters are ",
               dtype_name(params.dtype()));
  const std::int64_t p = data.x.dim(0);
  GROOVE_CHECK(p >= 1, "trainer: no training examples");
  if (data.labels.defined()) check_shape(data.labels, "labels", {p});
  if (data.targets.defined())
    GROOVE_CHECK(data.targets.ndim() == 2 && data.targets.dim(0) == p, "trainer: targets must be [P, C] with P = ", p,
                 ", got ", data.targets.str());
  GROOVE_CHECK(spec.batch_size >= 0 && spec.batch_size <= p, "trainer: batch_size must lie in [0, ", p,
               "] (0 = full batch), got ", spec.batch_size);
  GROOVE_CHECK(!(spec.batch_size > 0 && data.weights.defined()),
               "trainer: example weights need full-batch training; balance minibatches by repeating examples");
  GROOVE_CHECK(spec.steps_per_graph >= 1, "trainer: steps_per_graph must be >= 1, got ", spec.steps_per_graph);
  step_ = Tensor::zeros({1}, DType::i32, ctx);
  Tensor seeds = Tensor::host({k}, DType::i32);
  for (std::int64_t m = 0; m < k; ++m) {
    const std::uint64_t s = EnsembleSpec::at(spec.seeds, m, k, "seeds");
    seeds.flat<std::int32_t>(m) = static_cast<std::int32_t>(static_cast<std::uint32_t>(s ^ (s >> 32)));
  }
  seeds_ = seeds.to(ctx);
  if (spec.batch_size > 0) {
    const std::int64_t b = spec.batch_size;
    batch_index_ = Tensor::empty({k, b}, DType::i32, ctx);
    batch_x_ = Tensor::empty({k, b, data.x.dim(1)}, data.x.dtype(), ctx);
    if (data.labels.defined()) batch_labels_ = Tensor::empty({k, b}, DType::i32, ctx);
    if (data.targets.defined()) batch_targets_ = Tensor::empty({k, b, data.targets.dim(1)}, data.targets.dtype(), ctx);
  }
}

void Trainer::prepare_batch() {
  if (spec_.batch_size == 0) return;
  Context& ctx = *ctx_;
  const std::int64_t p = data_.x.dim(0);
  ops::minibatch_indices(batch_index_, p, seeds_, kMinibatchStream, step_, ctx);
  ops::gather_rows(batch_x_, data_.x, batch_index_, ctx);
  if (batch_labels_.defined()) {
    Tensor out = batch_labels_.reshape({batch_labels_.dim(0), batch_labels_.dim(1), 1});
    ops::gather_rows(out, data_.labels.reshape({p, 1}), batch_index_, ctx);
  }
  if (batch_targets_.defined()) ops::gather_rows(batch_targets_, data_.targets, batch_index_, ctx);
}

void Trainer::set_observer(std::int64_t every, std::function<void()> fn) {
  GROOVE_CHECK(!fn || every >= 1, "trainer: the observer's `every` must be >= 1, got ", every);
  observer_ = std::move(fn);
  observe_every_ = observer_ ? every : 0;
  graphs_.clear();  // captured graphs may hold the old observer's work
}

StepGraph& Trainer::graph(bool observe, int steps) {
  for (auto& [key, g] : graphs_) {
    if (key.first == observe && key.second == steps) return *g;
  }
  auto g = std::make_unique<StepGraph>();
  g->capture(*ctx_, steps, [this, observe] { replay_step(true, observe); });
  graphs_.emplace_back(std::make_pair(observe, steps), std::move(g));
  return *graphs_.back().second;
}

void Trainer::record_step(bool update, bool observe) {
  tape_.clear();
  prepare_batch();
  const bool mb = spec_.batch_size > 0;
  const Var x = tape_.input(mb ? batch_x_ : data_.x);
  const Var logits = forward_(tape_, x, RngRef{seeds_, step_, kLayerStreams});
  tape_.tag("logits", logits);
  loss_ = nn::loss(tape_, logits, spec_.loss, mb ? batch_labels_ : data_.labels, mb ? batch_targets_ : data_.targets,
                   data_.weights);
  tape_.backward(loss_.loss);
  recorded_ = true;
  if (observe && observer_) observer_();
  if (update) {
    optimizer_->update(step_);
    ops::increment_counter(step_, *ctx_);
  }
}

void Trainer::replay_step(bool update, bool observe) {
  prepare_batch();
  tape_.forward_replay();
  tape_.backward(loss_.loss);
  if (observe && observer_) observer_();
  if (update) {
    optimizer_->update(step_);
    ops::increment_counter(step_, *ctx_);
  }
}

void Trainer::set_steps_done(std::int64_t steps) {
  GROOVE_CHECK(steps >= 0 && steps <= std::numeric_limits<std::int32_t>::max(), "trainer: steps_done must lie in [0, ",
               std::numeric_limits<std::int32_t>::max(), "], got ", steps);
  Tensor host = Tensor::host({1}, DType::i32);
  host.flat<std::int32_t>(0) = static_cast<std::int32_t>(steps);
  const Tensor device = host.to(*ctx_);
  ops::copy(step_, device, *ctx_);
  ctx_->synchronize();
  steps_done_ = steps;
}

void Trainer::evaluate() {
  if (!recorded_ || !spec_.replay) {
    record_step(false, true);
  } else {
    replay_step(false, true);
  }
}

void Trainer::run(std::int64_t steps, std::int64_t log_every, const std::function<void(std::int64_t)>& hook) {
  GROOVE_CHECK(steps >= 0, "trainer: steps must be >= 0, got ", steps);
  GROOVE_CHECK(log_every >= 0, "trainer: log_every must be >= 0, got ", log_every);
  GROOVE_CHECK(steps_done_ + steps <= std::numeric_limits<std::int32_t>::max(),
               "trainer: more than 2^31 - 1 steps are not supported");
  const std::int64_t end = steps_done_ + steps;
  const std::int64_t n = spec_.steps_per_graph;
  while (steps_done_ < end) {
    // Run until the next hook point without any host synchronization.
    const std::int64_t chunk_end = log_every > 0 ? std::min(end, (steps_done_ / log_every + 1) * log_every) : end;
    while (steps_done_ < chunk_end) {
      const std::int64_t left = chunk_end - steps_done_;
      const std::int64_t every = observe_every_;
      const bool observe = every > 0 && steps_done_ % every == 0;
      // The next observed step at or after steps_done_ (none: past the end).
      const std::int64_t next_observed = every > 0 ? (steps_done_ + every - 1) / every * every : end;
      if (!recorded_ || !spec_.replay) {
        record_step(true, observe);
        ++steps_done_;
      } else if (ctx_->is_cuda() && every == 1 && left >= n) {
        graph(true, static_cast<int>(n)).launch();
        steps_done_ += n;
      } else if (ctx_->is_cuda() && !observe && left >= n && next_observed >= steps_done_ + n) {
        graph(false, static_cast<int>(n)).launch();
        steps_done_ += n;
      } else if (ctx_->is_cuda() && observe) {
        graph(true, 1).launch();
        ++steps_done_;
      } else {
        replay_step(true, observe);
        ++steps_done_;
      }
    }
    if (hook && (log_every == 0 || steps_done_ % log_every == 0 || steps_done_ == end)) hook(steps_done_);
  }
}

}  // namespace groove::nn
