// ParamStore: flat parameter and gradient buffers, views, NPZ import/export.
#include "nn/params.h"

#include <cmath>

#include "runtime/npy.h"

namespace groove::nn {

ParamStore::ParamStore(Context& ctx, std::int64_t models, DType dtype) : ctx_(&ctx), models_(models), dtype_(dtype) {
  GROOVE_CHECK(models >= 1, "ParamStore: the number of models must be >= 1, got ", models);
  GROOVE_CHECK(is_floating(dtype), "ParamStore: parameters must be f32 or f64, got ", dtype_name(dtype));
}

int ParamStore::add(const std::string& name, const Shape& shape) {
  GROOVE_CHECK(!finalized_, "ParamStore::add('", name, "') after finalize()");
  GROOVE_CHECK(!name.empty(), "ParamStore::add: empty parameter name");
  for (const std::string& n : names_) GROOVE_CHECK(n != name, "ParamStore::add: duplicate parameter '", name, "'");
  GROOVE_CHECK(size() < ops::ParamSegments::kMax, "ParamStore: at most ", ops::ParamSegments::kMax,
               " parameter tensors are supported");
  names_.push_back(name);
  shapes_.push_back(shape);
  return size() - 1;
}

std::int64_t ParamStore::numel_per_model() const {
  std::int64_t n = 0;
  for (const Shape& s : shapes_) n += s.numel();
  return n;
}

void ParamStore::finalize() {
  GROOVE_CHECK(!finalized_, "ParamStore::finalize() called twice");
  const std::int64_t total = models_ * numel_per_model();
  flat_values_ = Tensor::zeros({total}, dtype_, *ctx_);
  flat_grads_ = Tensor::zeros({total}, dtype_, *ctx_);
  std::int64_t offset = 0;
  for (const Shape& s : shapes_) {
    const std::int64_t n = models_ * s.numel();
    values_.push_back(flat_values_.models(offset, n).reshape(s.with_front(models_)));
    grads_.push_back(flat_grads_.models(offset, n).reshape(s.with_front(models_)));
    offset += n;
  }
  finalized_ = true;
}

int ParamStore::index(const std::string& name) const {
  for (int i = 0; i < size(); ++i) {
    if (names_[static_cast<std::size_t>(i)] == name) return i;
  }
  std::string present;
  for (const std::string& n : names_) present += (present.empty() ? "" : ", ") + n;
  GROOVE_THROW("no parameter named '", name, "' (parameters: ", present, ")");
}

ops::ParamSegments ParamStore::segments() const {
  GROOVE_CHECK(finalized_, "ParamStore::segments() before finalize()");
  ops::ParamSegments s;
  s.count = size();
  s.models = models_;
  std::int64_t offset = 0;
  for (int i = 0; i < size(); ++i) {
    s.offset[i] = offset;
    s.per_model[i] = shapes_[static_cast<std::size_t>(i)].numel();
    offset += models_ * s.per_model[i];
  }
  return s;
}

std::vector<NamedTensor> ParamStore::to_named() const {
  GROOVE_CHECK(finalized_, "ParamStore: export before finalize()");
  std::vector<NamedTensor> out;
  for (int i = 0; i < size(); ++i) out.push_back({name(i), value(i).to_host()});
  return out;
}

void ParamStore::save_npz(const std::string& path) const {
  write_npz(path, to_named());
}

void ParamStore::load_npz(const std::string& path) {
  GROOVE_CHECK(finalized_, "ParamStore: import before finalize()");
  const std::vector<NamedTensor> arrays = read_npz(path);
  for (int i = 0; i < size(); ++i) {
    const NamedTensor* found = nullptr;
    for (const NamedTensor& a : arrays) {
      if (a.name == name(i)) found = &a;
    }
    GROOVE_CHECK(found, path, ": no array '", name(i), "' (expected shape ", value(i).shape().str(), " or ",
                 shapes_[static_cast<std::size_t>(i)].str(), ")");
    const Tensor& src = found->tensor;
    const Shape& per_model = shapes_[static_cast<std::size_t>(i)];
    const bool full = src.shape() == value(i).shape();
    GROOVE_CHECK(full || src.shape() == per_model, path, ": array '", name(i), "' has shape ", src.shape().str(),
                 ", expected ", value(i).shape().str(), " or ", per_model.str(), " (same for every model)");
    GROOVE_CHECK(is_floating(src.dtype()), path, ": array '", name(i), "' has dtype ", dtype_name(src.dtype()),
                 ", expected f32 or f64");
    Tensor host = Tensor::host(value(i).shape(), dtype_);
    const std::int64_t n = per_model.numel();
    for (std::int64_t j = 0; j < host.numel(); ++j) {
      const std::int64_t s = full ? j : j % n;
      const double v = src.dtype() == DType::f32 ? src.flat<float>(s) : src.flat<double>(s);
      GROOVE_CHECK(std::isfinite(v), path, ": array '", name(i), "' holds a non-finite value at flat index ", s);
      if (dtype_ == DType::f32)
        host.flat<float>(j) = static_cast<float>(v);
      else
        host.flat<double>(j) = v;
    }
    Tensor dst = value(i);
    dst.copy_from(host, *ctx_);
  }
}

}  // namespace groove::nn
