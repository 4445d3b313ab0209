// ParamStore: all parameters of an ensemble in one flat buffer (and their gradients in another),
// so one optimizer kernel updates everything. Each parameter is a view [K, ...] into the buffer.
// NPZ import/export with stable names ("layer0.weight" [K, out, in], "layer0.bias" [K, out]).
#pragma once

#include <string>
#include <vector>

#include "kernels/ops.h"
#include "runtime/npy.h"
#include "runtime/tape.h"

namespace groove::nn {

class ParamStore {
 public:
  ParamStore(Context& ctx, std::int64_t models, DType dtype);

  // Declares a parameter of per-model shape `shape` (it is stored as [K, shape...]). Only before
  // finalize(); returns its index.
  int add(const std::string& name, const Shape& shape);
  // Allocates the value and gradient buffers (zeroed) and the per-parameter views.
  void finalize();

  int size() const { return static_cast<int>(names_.size()); }
  int index(const std::string& name) const;  // throws naming the parameters present
  const std::string& name(int i) const { return names_.at(static_cast<std::size_t>(i)); }
  const Tensor& value(int i) const { return values_.at(static_cast<std::size_t>(i)); }
  const Tensor& grad(int i) const { return grads_.at(static_cast<std::size_t>(i)); }
  Tensor& flat_values() { return flat_values_; }
  Tensor& flat_grads() { return flat_grads_; }
  const Tensor& flat_values() const { return flat_values_; }
  const Tensor& flat_grads() const { return flat_grads_; }
  ops::ParamSegments segments() const;
  std::int64_t models() const { return models_; }
  DType dtype() const { return dtype_; }
  Context& context() const { return *ctx_; }
  std::int64_t numel_per_model() const;

  // Binds parameter i to a tape as a leaf that requires a gradient.
  Var bind(Tape& tape, int i) const { return tape.parameter(value(i), grad(i)); }

  // All parameters as NPZ arrays [K, ...] (host copies, in declaration order).
  std::vector<NamedTensor> to_named() const;
  void save_npz(const std::string& path) const;
  // Loads every parameter from an NPZ file. Each array must be [K, ...] or, to give all models the
  // same value, the per-model shape [...]; f32 or f64 (converted to the store's dtype). Missing or
  // misshaped arrays are errors naming the file and the array.
  void load_npz(const std::string& path);

 private:
  Context* ctx_;
  std::int64_t models_;
  DType dtype_;
  std::vector<std::string> names_;
  std::vector<Shape> shapes_;  // per model
  std::vector<Tensor> values_, grads_;
  Tensor flat_values_, flat_grads_;
  bool finalized_ = false;
};

}  // namespace groove::nn
