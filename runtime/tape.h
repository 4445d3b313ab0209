// A define-by-run autodiff tape over ensemble-first tensors.
//
// Ops (nn/functional.h) run their forward immediately and record a node: the op's name, its
// input variables, its output variable, the extra tensors its backward reads (`aux`) and a few
// attributes, plus pointers to the op's forward and backward functions (which sit side by side
// in nn/functional.cpp). backward() walks the nodes in reverse recording order — a topological
// order, since every node's inputs were recorded before it — iteratively, never recursively.
//
// Gradients accumulate: the first contribution to a variable's gradient overwrites it, later ones
// add (each backward function receives one `accumulate` flag per input). Gradients are computed
// only for inputs that require them. Parameters' gradients are overwritten by each backward()
// unless `accumulate_parameter_grads` is set (gradient accumulation over several passes).
//
// Replay: every tensor a step needs is allocated while it is recorded, so forward_replay() and
// backward() can run the same step again on new data without rebuilding the tape or allocating.
// On the CPU that is the prepared plan; on CUDA the replay is captured into a graph (StepGraph).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove {

class Tape;

// A handle to a variable on a tape (an index). Cheap to copy; valid while its tape lives.
struct Var {
  int id = -1;
  bool defined() const { return id >= 0; }
};

struct TapeNode {
  using ForwardFn = void (*)(TapeNode& node, Tape& tape);
  using BackwardFn = void (*)(TapeNode& node, Tape& tape, const bool* accumulate);
  static constexpr int kMaxInputs = 4;

  int kind = -1;          // the op's index in its registry (nn::OpKind)
  const char* name = "";  // the op's name, for errors and tape dumps
  ForwardFn forward = nullptr;
  BackwardFn backward = nullptr;
  std::array<int, kMaxInputs> inputs{{-1, -1, -1, -1}};
  int n_inputs = 0;
  int output = -1;
  std::vector<Tensor> aux;       // tensors the op keeps: saved values, scratch, labels, ...
  std::array<double, 4> real{};  // scalar attributes
  std::array<std::int64_t, 4> ints{};
};

class Tape {
 public:
  explicit Tape(Context& ctx) : ctx_(&ctx) {}
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  Context& context() const { return *ctx_; }

  // Leaves. An input holds data (no gradient). A parameter's gradient buffer is given by the
  // caller (parameters and their gradients live in flat buffers owned by nn::ParamStore).
  Var input(const Tensor& value);
  Var parameter(const Tensor& value, const Tensor& grad);

  // Creates the output variable of an op being recorded. Its gradient buffer is allocated when
  // grad mode is on and any input requires a gradient.
  Var new_output(const Tensor& value, const TapeNode& node);
  // Records a node whose output was made by new_output(), and runs its forward once.
  void record(TapeNode node);

  const Tensor& value(Var v) const { return vars_.at(check(v)).value; }
  const Tensor& grad(Var v) const { return vars_.at(check(v)).grad; }
  bool requires_grad(Var v) const { return vars_.at(check(v)).requires_grad; }
  bool requires_grad(int id) const { return vars_.at(static_cast<std::size_t>(id)).requires_grad; }
  const Tensor& value(int id) const { return vars_.at(static_cast<std::size_t>(id)).value; }
  const Tensor& grad(int id) const { return vars_.at(static_cast<std::size_t>(id)).grad; }

  // Reverse pass from `loss`, a [K] variable (one loss per model). The seed gradient is 1 for
  // every model; `seed`, when given, is a [K] tensor on the context's device used instead.
  void backward(Var loss, bool accumulate_parameter_grads = false);
  void backward(Var loss, const Tensor& seed, bool accumulate_parameter_grads = false);
  // Runs every recorded forward again, in order, on the current contents of the inputs.
  void forward_replay();

  // While a NoGrad guard lives, new outputs do not require gradients (evaluation passes).
  class NoGrad {
   public:
    explicit NoGrad(Tape& tape) : tape_(tape), previous_(tape.grad_enabled_) { tape.grad_enabled_ = false; }
    ~NoGrad() { tape_.grad_enabled_ = previous_; }
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

   private:
    Tape& tape_;
    bool previous_;
  };
  bool grad_enabled() const { return grad_enabled_; }

  // Named variables: a model tags what observers may read (the MLP tags its last hidden layer
  // "features"; the Trainer tags "logits"). Tagging a name again replaces it; clear() forgets all.
  void tag(const std::string& name, Var v);
  Var tagged(const std::string& name) const;  // an undefined Var when the name was not tagged

  const std::vector<TapeNode>& nodes() const { return nodes_; }
  std::size_t num_vars() const { return vars_.size(); }
  std::string dump() const;  // one line per node, for debugging
  // Forgets every node and variable (their tensors are released).
  void clear();

 private:
  struct VarData {
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    bool is_parameter = false;
  };
  std::size_t check(Var v) const;

  Context* ctx_;
  std::vector<VarData> vars_;
  std::vector<TapeNode> nodes_;
  std::vector<char> written_;
  std::vector<std::pair<std::string, Var>> tags_;  // per variable: has the current backward pass written its grad?
  Tensor seed_ones_;
  bool grad_enabled_ = true;
};

// A training step captured as a CUDA graph (optionally several steps per graph) and relaunched
// without host work. Only for CUDA contexts; on the CPU the Tape's replay is the plan.
class StepGraph {
 public:
  StepGraph() = default;
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Captures `steps` calls of body() on ctx's stream. body must only enqueue device work (no
  // allocation, no synchronization); a violation is reported as a groove::Error.
  template <typename Body>
  void capture(Context& ctx, int steps, Body&& body) {
    begin_capture(ctx);
    try {
      for (int i = 0; i < steps; ++i) body();
    } catch (...) {
      abort_capture();
      throw;
    }
    end_capture(steps);
  }
  // Enqueues the captured steps once (asynchronously).
  void launch();
  bool captured() const { return exec_ != nullptr; }
  int steps_per_launch() const { return steps_; }

 private:
  void begin_capture(Context& ctx);
  void end_capture(int steps);
  void abort_capture() noexcept;
  void reset() noexcept;

  Context* ctx_ = nullptr;
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
  int steps_ = 0;
};

}  // namespace groove
