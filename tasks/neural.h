// Neural population data: sessions (e.g. mouse x day) of trials x neurons responses with trial
// labels. The decoding job (groove decode) reads this layout; the synthetic neural-like generator
// and the Neural Decoding Toolbox raster loader produce it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace groove::tasks {

// Trial labels used by the decoding pipeline.
enum class TrialLabel : std::int32_t { nontarget = 0, target = 1, probe = 2 };

struct NeuralSession {
  std::string subject;                // e.g. the mouse
  std::int64_t day = 0;               // recording day (session order)
  std::string key;                    // unique session key, e.g. "M1/day3"
  Tensor responses;                   // f64 [trials, neurons] (spike counts or rates), host
  std::vector<std::int32_t> labels;   // per trial: TrialLabel
  std::vector<std::int32_t> stimulus; // per trial: stimulus (odor) identity, -1 when unknown
  std::vector<std::string> neuron_ids;  // per neuron (file name for NDT rasters)
};

struct NeuralDataset {
  std::string source;  // generator or folder
  std::vector<NeuralSession> sessions;
  // Checks shapes (labels and stimulus per trial), label values, finiteness; throws naming `what`.
  void validate(const std::string& what) const;
};

}  // namespace groove::tasks
