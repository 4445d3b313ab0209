// Differentiable ops on a Tape. Each op runs its forward now, records a node, and has its forward
// and backward side by side in nn/functional.cpp. The op kinds are one enum with a name table.
//
// Shapes are ensemble-first: x [K, P, D] (or shared data [P, D]), weights [K, N, D], biases
// [K, N], per-model scalars [K], losses [K].
#pragma once

#include <cstdint>

#include "kernels/ops.h"
#include "runtime/tape.h"

namespace groove::nn {

enum class OpKind : std::uint8_t { linear, activation, add, dropout, gaussian_noise, loss, dense };
inline constexpr int kNumOpKinds = 7;
inline constexpr const char* kOpNames[kNumOpKinds] = {"linear",         "activation", "add",  "dropout",
                                                      "gaussian_noise", "loss",       "dense"};
static_assert(static_cast<int>(OpKind::dense) + 1 == kNumOpKinds, "update kOpNames");

// y = scale * (x @ w^T) + b, where scale is `scale_per_model` [K] (when defined, same dtype, on
// the device: e.g. mean-field's 1/(gamma_k N)) times the scalar `scale`.
//   x: [K, P, D] or shared [P, D] (data only: a shared input cannot require a gradient)
//   w: [K, N, D];  b: [K, N] or undefined Var;  y: [K, P, N]
Var linear(Tape& tape, Var x, Var w, Var b, double scale = 1.0, const Tensor& scale_per_model = Tensor());

// A dense layer, y = phi(scale * (x @ w^T) + b), as one node: the GEMM, then one fused pass for
// bias + activation (ops::bias_activation). The backward takes phi' from y (no pre-activation is
// kept) and computes dz and the bias gradient in one pass (ops::activation_backward_from_output),
// so only activations with ops'/math's activation_derivative_from_output_exact(act, slope) are
// accepted (identity, relu, leaky_relu with slope > 0); use linear + activation for the others.
// Same shapes as linear; the same values and gradients as linear followed by activation, except
// that after backward() tape.grad(y) holds dz = dy * phi' (computed in place: no extra buffer).
Var dense(Tape& tape, Var x, Var w, Var b, Activation act, double slope = 0.01, double scale = 1.0,
          const Tensor& scale_per_model = Tensor());

// y = phi(x) elementwise; `slope` is leaky_relu's negative slope.
Var activation(Tape& tape, Var x, Activation act, double slope = 0.01);

// y = a + b (same shapes): skip connections.
Var add(Tape& tape, Var a, Var b);

// Per-model randomness inside a step: seeds i32 [K] and the step counter i32 [1], on the device.
// `stream` separates the layers that draw (each dropout / noise layer has its own).
// `train = false` is evaluation mode: models skip dropout and noise layers.
struct RngRef {
  Tensor seeds;
  Tensor step;
  std::uint64_t stream = 0;
  bool train = true;
};

// Inverted dropout: y = x * mask / (1 - p) with a fresh mask each step (Philox, per model).
Var dropout(Tape& tape, Var x, double p, const RngRef& rng);
// y = x + stddev * N(0, 1), fresh noise each step.
Var gaussian_noise(Tape& tape, Var x, double stddev, const RngRef& rng);

struct LossOutput {
  Var loss;            // [K]: the (weighted) mean loss of each model, on the tape
  Tensor value;        // [K]: its values (refreshed by every forward)
  Tensor log10_loss;   // [K]: log10 of it, computed in log space (finite where the loss underflows)
  Tensor per_example;  // f64 [2, K, P]: each example's loss and its natural log
};
// The loss of logits [K, P, C] against labels (i32 [P] or [K, P]) or real targets (squared error:
// [P, C] or [K, P, C]), with optional per-example weights [P]; see ops::loss_forward. The tensors
// are referenced, not copied: refill them in place to train on new data (minibatches).
LossOutput loss(Tape& tape, Var logits, const ops::LossSpec& spec, const Tensor& labels,
                const Tensor& targets = Tensor(), const Tensor& weights = Tensor());

LossKind parse_loss(const std::string& name);  // "cross_entropy", "logistic", "hinge", "squared_error"

}  // namespace groove::nn
