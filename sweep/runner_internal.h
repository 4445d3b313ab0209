// Pieces of the runner that groove reversal reuses (not part of the public API).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/optimizer.h"
#include "nn/trainer.h"
#include "sweep/config.h"

namespace groove::sweep::detail {

std::string config_dir(const std::string& config_path);
DType dtype_of(const Config& config);                         // f64 for precision fp64, else f32
Tensor as_dtype(const Tensor& t, DType dtype, Context& ctx);  // t itself when it has the dtype
// The ensemble of `members` (their seeds, init scales and gammas) with the shape of `config`.
std::unique_ptr<nn::Model> build_model(const Config& config, const std::vector<const Config*>& members, Context& ctx,
                                       std::int64_t input_dim, std::int64_t outputs);
// Per-model learning rates (with optimizer.lr_scale) and weight decays; `width` = the last hidden width.
nn::OptimizerSpec optimizer_spec(const Config& config, const std::vector<const Config*>& members, std::int64_t width);
nn::TrainerSpec trainer_spec(const Config& config, const std::vector<const Config*>& members);

}  // namespace groove::sweep::detail
