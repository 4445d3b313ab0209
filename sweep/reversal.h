// The overtraining-reversal protocol (`groove reversal`, SCIENCE.md "Overtraining reversal"):
//
//   phase 1  train each seed's network on the task for T_max = max(reversal.pretrain_steps) steps,
//            keeping its parameters at every T in reversal.pretrain_steps;
//   phase 2  for every (T, seed): keep the hidden layers of the phase-1 network at T, attach a new,
//            freshly drawn readout, flip the training labels (y -> 1 - y), and train everything
//            (hidden layers included) for reversal.steps steps. All (T, seed) pairs of a network
//            train as one ensemble.
//   report   steps until the train loss falls below reversal.loss_criterion and until the train
//            accuracy reaches reversal.accuracy_criterion, against T; the kernel-target alignment
//            of the hidden layer at the switch (it grows with T in the rich regime, and
//            (-y)^T K (-y) = y^T K y, which is why longer pretraining helps the reversal).
//
// Networks: "mlp" is the configured model; "linear" is the two-layer linear mean-field network
// of the paper (identity activation, mean-field parameterization, the configured width, gamma,
// init scale and learning rate).
//
// Files in <out>/<name>/: reversal.csv (network, pretrain_steps, seed, steps_to_loss,
// steps_to_accuracy, kernel_alignment, final_loss; -1 when a criterion was never reached),
// reversal_curves.csv (network, pretrain_steps, seed, step, loss, accuracy at log-spaced steps of
// phase 2), reversal.json (criteria and settings), config.yaml.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace groove::sweep {

struct ReversalOptions {
  std::vector<std::string> overrides;
  bool progress = true;
  std::ostream* out = nullptr;  // default std::cout
};

// Returns the output folder.
std::string run_reversal(const std::string& config_path, const ReversalOptions& options);

}  // namespace groove::sweep
