// Trainer: runs S steps of full-batch or minibatch training for an ensemble of K models with no
// host synchronization inside the S steps.
//
// The first step is recorded on a Tape (eagerly, allocating every buffer). Every later step
// replays it: on the CPU the tape's prepared plan; on CUDA a captured graph of `steps_per_graph`
// steps, relaunched. Per-model randomness (dropout, noise, minibatch order) comes from the seeds
// and a device step counter, so it is identical on CPU and CUDA and independent of K.
// `replay = false` opts out (eager mode: the step is re-recorded each time; slower, but every op
// runs define-by-run, which is what you want in a debugger).
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "nn/mlp.h"
#include "nn/optimizer.h"

namespace groove::nn {

// Training data on the trainer's device, shared by every model.
struct TrainData {
  Tensor x;        // [P, D]
  Tensor labels;   // i32 [P] (classification losses; squared error without targets)
  Tensor targets;  // [P, C] real targets (squared error), or undefined
  Tensor weights;  // [P] example weights (class balancing), or undefined; full batch only
};

struct TrainerSpec {
  ops::LossSpec loss;
  std::int64_t batch_size = 0;             // 0: full batch
  std::vector<std::uint64_t> seeds = {0};  // per model: dropout, noise and minibatch streams
  bool replay = true;                      // false: eager mode (debugging)
  int steps_per_graph = 1;                 // CUDA: steps captured in one graph
};

class Trainer {
 public:
  Trainer(ParamStore& params, ForwardFn forward, Optimizer& optimizer, const TrainData& data, const TrainerSpec& spec);

  // Runs `steps` steps. Every `log_every` steps (0: only at the end) calls hook(steps_done) on the
  // host, between steps; the hook may read tensors (that synchronizes, the steps do not).
  void run(std::int64_t steps, std::int64_t log_every = 0, const std::function<void(std::int64_t)>& hook = {});

  // An observer runs inside every step whose number s (the updates done before it) is a multiple
  // of `every`: after the backward pass and before the update, so it sees that step's forward
  // values (tape tags "logits" and the model's "features"), its gradients, and the parameters
  // theta_s. It must only enqueue device work: on CUDA it is captured into the step's graph.
  // Steps without an observation replay a graph without it. An empty fn removes the observer.
  void set_observer(std::int64_t every, std::function<void()> fn);
  // Runs the forward and backward pass of step steps_done() and the observer, without updating
  // the parameters or advancing the step counter: the statistics of the current parameters.
  void evaluate();

  std::int64_t steps_done() const { return steps_done_; }
  // Resuming from a checkpoint: sets the number of updates done (and the device step counter that
  // drives the schedule, Adam's bias correction and every random stream). Load the parameters and
  // the optimizer state separately.
  void set_steps_done(std::int64_t steps);
  // The loss of the most recent step: [K] values, log10, per-example (device tensors).
  const LossOutput& loss() const { return loss_; }
  Tape& tape() { return tape_; }
  const Tensor& step_counter() const { return step_; }  // i32 [1] on the device
  // Minibatch training: the examples of the last step run, i32 [K, B] on the device (undefined
  // in full-batch training).
  const Tensor& batch_index() const { return batch_index_; }
  Context& context() const { return *ctx_; }
  const TrainerSpec& spec() const { return spec_; }

 private:
  void prepare_batch();
  void record_step(bool update, bool observe);
  void replay_step(bool update, bool observe);
  StepGraph& graph(bool observe, int steps);

  Context* ctx_;
  ParamStore* params_;
  ForwardFn forward_;
  Optimizer* optimizer_;
  TrainData data_;
  TrainerSpec spec_;
  Tape tape_;
  LossOutput loss_;
  Tensor step_, seeds_;
  Tensor batch_index_, batch_x_, batch_labels_, batch_targets_;
  std::vector<std::pair<std::pair<bool, int>, std::unique_ptr<StepGraph>>> graphs_;  // (observed, steps)
  std::function<void()> observer_;
  std::int64_t observe_every_ = 0;
  bool recorded_ = false;
  std::int64_t steps_done_ = 0;
};

}  // namespace groove::nn
