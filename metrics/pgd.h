// Robustness under an L-infinity PGD attack (Madry et al. 2018) on held-out inputs, for all K
// models at once: each model gets its own adversarial copy of every example.
#pragma once

#include "nn/mlp.h"

namespace groove::metrics {

struct PgdSpec {
  double epsilon = 0;    // L-infinity radius of the perturbation (0: no attack)
  int steps = 10;        // signed-gradient ascent steps
  double step_size = 0;  // 0: 2.5 * epsilon / steps
};

// Margins (f64 [K, Q], on the model's device) of every model on x + delta_k, where delta_k starts at
// 0 and takes `steps` steps delta <- clip(delta + step_size * sign(grad_x L), -eps, eps) that ascend
// the cross-entropy of the model's outputs (logistic for one output), whatever loss trained it
// (hinge losses have zero gradient on examples beyond the margin). The model runs in evaluation
// mode (no dropout or noise). x: [Q, D] and labels: i32 [Q] on the model's device. Overwrites the
// parameter gradients of the model's ParamStore (call it between training steps).
Tensor pgd_margins(const nn::Model& model, const Tensor& x, const Tensor& labels, const PgdSpec& spec);

}  // namespace groove::metrics
